import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, cleanEnv, ROOT } from '../support/cli.ts';
import { job } from '../support/factory.ts';
import { accepts, inTemp, writeJobs } from './support/fixture.ts';

// ---

const output = suite('output');

output('a reader that stops early (`list --json | head`) ends the command with status 0 and nothing on stderr', inTemp((cwd) => {
  writeJobs(cwd, Array.from({ length: 500 }, (_, i) => job({ id: `job-${i}`, cwd })));
  const full = accepts(['list', '--json'], { cwd }).stdout;
  assert.ok(full.length > 256 * 1024, `${full.length} bytes: more than a pipe holds`);
  const script = `{ "${process.execPath}" "${BIN}" list --json 2> err; echo $? > status; } | head -c 100`;
  const result = spawnSync('/bin/sh', ['-c', script], { cwd, env: cleanEnv(), encoding: 'utf8' });
  assert.is(result.stdout, full.slice(0, 100));
  assert.is(fs.readFileSync(path.join(cwd, 'status'), 'utf8'), '0\n');
  assert.is(fs.readFileSync(path.join(cwd, 'err'), 'utf8'), '');
}));

output('stdout and stderr written to files hold exactly what was printed, in order', inTemp((cwd) => {
  writeJobs(cwd, [job({ id: 'one', cwd })]);
  const result = spawnSync('/bin/sh', ['-c', `"${process.execPath}" "${BIN}" show one > out 2> err; "${process.execPath}" "${BIN}" show nosuch >> out 2>> err; exit 0`], { cwd, env: cleanEnv(), encoding: 'utf8' });
  assert.is(result.status, 0);
  assert.match(fs.readFileSync(path.join(cwd, 'out'), 'utf8'), /^id:\s+one$/m);
  assert.match(fs.readFileSync(path.join(cwd, 'err'), 'utf8'), /^queuectl: no job with id "nosuch"/);
}));

// ---

const cache = suite('code cache');

// The bundle wrapped exactly as src/boot.ts wraps it: V8 checks the source against the cache.
cache('the build\'s code cache is accepted by this Node, for the bundle as dist/main.js compiles it', () => {
  const bundle = path.join(ROOT, 'dist', 'cli.js');
  const source = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(bundle, 'utf8')}\n})`;
  const script = new vm.Script(source, { filename: bundle, cachedData: fs.readFileSync(path.join(ROOT, 'dist', 'cli.cache')) });
  assert.is(script.cachedDataRejected, false);
});

output.run();
cache.run();
