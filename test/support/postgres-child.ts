/**
 * A test file run by test/postgres/harness.test.ts to see what the harness leaves behind: its one
 * pgSuite test prints the server's directory and postmaster pid as JSON, then fails (`fail`) or
 * kills its own process with SIGKILL (`kill`).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { pgSuite } from './postgres.ts';

const mode = process.argv[2];
const test = pgSuite('a test that goes wrong');

test('prints its server, then goes wrong', ({ server }) => {
  const pid = Number(fs.readFileSync(path.join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.stdout.write(`${JSON.stringify({ dir: server.dir, pid })}\n`);
  if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
  assert.unreachable('fails on purpose');
});

test.run();
