import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { pgSuite } from '../support/postgres.ts';
import { isAlive } from '../support/supervisor-proc.ts';
import { waitFor } from '../support/wait.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'postgres-child.ts');

/** Runs the child test file; what it printed about its server. */
function runChild(mode: 'fail' | 'kill'): { status: number | null; signal: NodeJS.Signals | null; server: { dir: string; pid: number } } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' } });
  // uvu prints the suite's name on the same line, before the test's own output.
  const line = /\{"dir".*\}/.exec(result.stdout)?.[0];
  assert.ok(line, `the child printed its server:\n${result.stdout}${result.stderr}`);
  return { status: result.status, signal: result.signal, server: JSON.parse(line) };
}

async function assertGone(server: { dir: string; pid: number }, timeout: number): Promise<void> {
  await waitFor(() => !isAlive(server.pid) && !fs.existsSync(server.dir), { timeout, what: `server ${server.pid} to stop and ${server.dir} to go` });
}

// ---

// The children start servers of their own: this file needs none, only the skip without one.
const cleanup = pgSuite('the throwaway server', { server: false });

cleanup('is stopped and removed when a test fails', async () => {
  const child = runChild('fail');
  assert.is(child.status, 1, 'the failing test fails its file');
  assert.not.ok(isAlive(child.server.pid), 'stopped before the test process exited');
  assert.not.ok(fs.existsSync(child.server.dir), 'removed before the test process exited');
});

cleanup('is stopped and removed when the test process is killed', async () => {
  const child = runChild('kill');
  assert.is(child.signal, 'SIGKILL');
  await assertGone(child.server, 15_000);
});

cleanup.run();
