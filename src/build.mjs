/**
 * `npm run build`: dist/main.js (the executable: src/boot.ts), dist/cli.js (the command line, one
 * CommonJS bundle, so that V8's code cache can serve it), dist/cli.cache (that cache, warmed by
 * running a few commands in a scratch store) and dist/worker-main.js (a cluster worker).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

/**
 * clipanion's Node platform module loads `tty` to guess a colour depth (ours is fixed) and, with
 * its default context, creates process.stdin, stdout and stderr as it loads; its `process` and
 * `run` spread that context, which reads every getter. Commands get streams of ours (see
 * src/cli/output.ts) and stdin only when they read it: the platform module is replaced, and the
 * default context keeps its streams behind getters that a copy keeps as getters.
 */
const lazyClipanion = {
  name: 'lazy-clipanion',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/platform$/ }, (args) =>
      args.importer.includes(`${path.sep}clipanion${path.sep}`) ? { path: path.join(root, 'src', 'cli', 'platform.ts') } : undefined,
    );
    build.onLoad({ filter: /[\\/]clipanion[\\/]lib[\\/]advanced[\\/]Cli\.js$/ }, async (args) => {
      let text = await fs.promises.readFile(args.path, 'utf8');
      const edits = [
        [/stdin: process\.stdin,\s*stdout: process\.stdout,\s*stderr: process\.stderr,/, 'get stdin() { return process.stdin; }, get stdout() { return process.stdout; }, get stderr() { return process.stderr; },'],
        [/\{\s*\.\.\.Cli\.defaultContext,\s*\.\.\.userContext,\s*\}/g, 'Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(Cli.defaultContext), ...Object.getOwnPropertyDescriptors(userContext) })'],
      ];
      for (const [pattern, replacement] of edits) {
        const before = text;
        text = text.replace(pattern, replacement);
        if (text === before) throw new Error(`clipanion's Cli.js no longer has ${pattern}: review the lazy-clipanion build plugin`);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

/**
 * proper-lockfile uses graceful-fs only as the default for its `fs` option, which src/store/file/
 * lock.ts always gives; loading it anyway costs every command that takes the lock the assert and
 * stream modules, and it replaces the process's own `fs.close` and `fs.closeSync` with queueing
 * wrappers. Plain node:fs stands in for it.
 */
const noGracefulFs = {
  name: 'no-graceful-fs',
  setup(build) {
    build.onResolve({ filter: /^graceful-fs$/ }, (args) =>
      args.importer.includes(`${path.sep}proper-lockfile${path.sep}`) ? { path: 'graceful-fs', namespace: 'node-fs' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'node-fs' }, () => ({ contents: "module.exports = require('node:fs');", loader: 'js' }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist);
// Everything in dist/ is CommonJS, whatever the package's own type.
fs.writeFileSync(path.join(dist, 'package.json'), '{ "type": "commonjs" }\n');
await Promise.all([
  esbuild.build({ ...common, entryPoints: [path.join(root, 'src', 'boot.ts')], outfile: path.join(dist, 'main.js') }),
  esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'src', 'main.ts')],
    outfile: path.join(dist, 'cli.js'),
    plugins: [lazyClipanion, noGracefulFs],
    // pg's optional native binding: pg falls back to JavaScript without it.
    external: ['pg-native'],
    // pool.ts finds worker-main.js beside the bundle.
    define: { 'import.meta.url': '__queuectlUrl' },
    banner: { js: 'var __queuectlUrl = require("node:url").pathToFileURL(__filename).href;' },
  }),
  esbuild.build({ ...common, entryPoints: [path.join(root, 'src', 'worker-main.ts')], outfile: path.join(dist, 'worker-main.js') }),
]);
fs.chmodSync(path.join(dist, 'main.js'), 0o755);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-build-'));
try {
  const warmup = [['enqueue', '--id', 'warm', '--', 'true'], ['status'], ['list'], ['list', '--json'], ['show', 'warm']];
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUECTL_')));
  const result = spawnSync(process.execPath, [path.join(dist, 'main.js')], {
    cwd: scratch,
    env: { ...env, QUEUECTL_HOME: path.join(scratch, '.queuectl'), QUEUECTL_CODE_CACHE_WARMUP: JSON.stringify(warmup) },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0 || !fs.existsSync(path.join(dist, 'cli.cache'))) throw new Error(`the code cache warm-up failed (${result.status}):\n${result.stderr}`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
