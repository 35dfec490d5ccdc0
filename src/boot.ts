#!/usr/bin/env node
/**
 * The `queuectl` executable. It runs the command-line bundle (cli.js, CommonJS) through V8's code
 * cache (cli.cache, made by the build): a one-shot command then skips most of the parsing and
 * compiling of its code, which is a good part of its start-up. Node 20 has no code cache for ES
 * modules, and `module.enableCompileCache` arrived only in Node 22. A cache that this Node's V8
 * rejects (another version, other flags) costs nothing: the bundle is compiled as usual.
 *
 * With QUEUECTL_CODE_CACHE_WARMUP (a JSON list of argument lists), used only by the build, it
 * runs those commands one after another in this process and writes the cache of all they compiled.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

const bundle = path.join(__dirname, 'cli.js');
const cacheFile = path.join(__dirname, 'cli.cache');
const warmup = process.env.QUEUECTL_CODE_CACHE_WARMUP;

function readCache(): Buffer | undefined {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(bundle, 'utf8')}\n})`, {
  filename: bundle,
  cachedData: warmup ? undefined : readCache(),
});
const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;

/** Runs the bundle once; its module-level code runs the command in `process.argv`. */
function run(): Promise<number> {
  const module = { exports: {} as { done?: Promise<number> } };
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, __dirname);
  return module.exports.done ?? Promise.resolve(0);
}

if (!warmup) {
  void run();
} else {
  void (async () => {
    delete process.env.QUEUECTL_CODE_CACHE_WARMUP;
    const [node, self] = process.argv as [string, string];
    for (const argv of JSON.parse(warmup) as string[][]) {
      process.argv = [node, self, ...argv];
      const code = await run();
      if (code !== 0) throw new Error(`code cache warm-up: queuectl ${argv.join(' ')} exited ${code}`);
    }
    const staging = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(staging, script.createCachedData());
    fs.renameSync(staging, cacheFile);
    process.exitCode = 0;
  })();
}
