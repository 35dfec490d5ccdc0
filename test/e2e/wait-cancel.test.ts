import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, cleanEnv } from '../support/cli.ts';
import { groupAlive } from '../support/supervisor-proc.ts';
import type { Sandbox } from '../support/supervisor-sandbox.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** A queuectl command left running, with what it printed so far; the sandbox kills it at the end. */
class Background {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;

  constructor(s: Sandbox, args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: s.dir, env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.child.on('close', (code, signal) => (this.exit = { code, signal, at: Date.now() }));
  }

  async exited(timeout = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    return waitFor(() => this.exit, { timeout, what: `the command to exit; stdout so far:\n${this.stdout}\nstderr:\n${this.stderr}` });
  }
}

/** A command that waits until the file `name` exists in the sandbox: the test decides when it ends. */
const gated = (s: Sandbox, name: string, then = 'true') => `while [ ! -e '${s.path(name)}' ]; do sleep 0.05; done; ${then}`;
const open = (s: Sandbox, name: string) => fs.writeFileSync(s.path(name), '');

// ---

const wait = suite('wait');

scenario(wait, 'wait A B exits 0 once both have completed, not before', async (s) => {
  s.ok('enqueue', '--id', 'a', '--', gated(s, 'go-a'));
  s.ok('enqueue', '--id', 'b', '--', gated(s, 'go-b'));
  await s.start(2);
  await s.waitJobs((jobs) => jobs.every((j) => j.state === 'processing'), 'both jobs to run');

  const waiting = new Background(s, ['wait', 'a', 'b']);
  open(s, 'go-a');
  await s.waitJob('a', (j) => j.state === 'completed', 'to complete');
  assert.is(waiting.exit, null, 'wait keeps waiting while b runs');
  open(s, 'go-b');
  const exit = await waiting.exited();
  assert.is(exit.code, 0);
  assert.is(waiting.stdout, '2 jobs completed\n');
  assert.is(s.job('b').state, 'completed');
});

scenario(wait, 'wait A B exits 4 and names the job that ended dead', async (s) => {
  s.ok('enqueue', '--id', 'good', '--', 'true');
  s.ok('enqueue', '--id', 'bad', '--max-retries', '1', '--', 'echo broken >&2; exit 1');
  await s.start(2);
  const result = s.q('wait', 'good', 'bad', '--timeout', '10s');
  assert.is(result.status, 4);
  assert.is(result.stderr, 'queuectl: job bad is dead: exit code 1: broken\n');
  assert.is(result.stdout, '1 of 2 jobs completed\n');
});

scenario(wait, 'wait --timeout 1s on a long job exits 75 and names it', async (s) => {
  s.ok('enqueue', '--id', 'long', '--', 'sleep 30');
  await s.start(1);
  await s.waitJob('long', (j) => j.state === 'processing', 'to run');
  const began = Date.now();
  const result = s.q('wait', 'long', '--timeout', '1s');
  const took = Date.now() - began;
  assert.is(result.status, 75);
  assert.match(result.stderr, /timed out after 1s; still waiting for long \(processing\)/);
  assert.ok(took >= 1_000 && took < 3_000, `gave up after about 1 s, took ${took} ms`);
});

scenario(wait, 'wait without ids waits for all unfinished work, jobs added meanwhile included, and ignores jobs finished before', async (s) => {
  s.ok('enqueue', '--id', 'old-dead', '--max-retries', '1', '--', 'exit 1');
  await s.start(1);
  await s.waitJob('old-dead', (j) => j.state === 'dead', 'to be dead');
  s.ok('enqueue', '--id', 'first', '--', gated(s, 'go-first'));
  await s.waitJob('first', (j) => j.state === 'processing', 'to run');

  const waiting = new Background(s, ['wait']);
  await waitFor(() => s.waitsForChanges(waiting.child.pid!), { what: 'wait to have read the queue once' });
  s.ok('enqueue', '--id', 'added', '--', gated(s, 'go-added'));
  open(s, 'go-first');
  await s.waitJob('first', (j) => j.state === 'completed', 'to complete');
  await s.waitJob('added', (j) => j.state === 'processing', 'to run');
  assert.is(waiting.exit, null, 'wait keeps waiting for the job added meanwhile');
  open(s, 'go-added');
  const exit = await waiting.exited();
  assert.is(exit.code, 0, `a job that was dead before wait started does not count; stderr: ${waiting.stderr}`);
  assert.is(waiting.stdout, '2 jobs completed\n');
  assert.is(s.job('added').state, 'completed');
});

scenario(wait, 'wait on an unknown id exits 3', async (s) => {
  s.ok('enqueue', '--id', 'known', '--', 'true');
  const result = s.q('wait', 'known', 'nosuch', '--timeout', '1s');
  assert.is(result.status, 3);
  assert.match(result.stderr, /no job with id "nosuch"/);
});

scenario(wait, 'wait --due waits for due jobs and their dependents, not for a job delayed a year; wait alone waits for that one too', async (s) => {
  s.ok('enqueue', '--id', 'now', '--', gated(s, 'go'));
  s.ok('enqueue', '--id', 'next', '--after', 'now', '--', 'true');
  s.ok('enqueue', '--id', 'later', '--delay', '365d', '--', 'true');
  await s.start(1);
  await s.waitJob('now', (job) => job.state === 'processing', 'to start');
  const running = new Background(s, ['wait', '--due', '--timeout', '1s']);
  assert.is((await running.exited(15_000)).code, 75, running.stderr);
  assert.match(running.stderr, /still waiting for now \(processing\), next \(pending\)\n$/, 'the due job and its dependent, not the one a year ahead');
  open(s, 'go');
  await s.waitJob('next', (job) => job.state === 'completed', 'the dependent to complete');
  const done = new Background(s, ['wait', '--due']);
  assert.is((await done.exited(15_000)).code, 0, done.stderr);
  assert.is(done.stdout, '0 jobs completed\n', 'nothing due is left');
  assert.is(s.job('later').state, 'pending');
  const all = new Background(s, ['wait', '--timeout', '1s']);
  assert.is((await all.exited()).code, 75);
  assert.match(all.stderr, /still waiting for later \(pending\)/);
});

// ---

const cancel = suite('cancel');

scenario(cancel, 'a pending job becomes cancelled and never runs', async (s) => {
  const ran = s.path('victim-ran');
  s.ok('enqueue', '--id', 'blocker', '--', gated(s, 'go'));
  s.ok('enqueue', '--id', 'victim', '--', `touch '${ran}'`);
  await s.start(1);
  await s.waitJob('blocker', (j) => j.state === 'processing', 'to hold the only worker');
  assert.is(s.job('victim').state, 'pending');

  assert.is(s.ok('cancel', 'victim'), 'cancelled victim\n');
  assert.is(s.job('victim').state, 'cancelled');
  open(s, 'go');
  // The worker is free again and runs what comes next, but not the cancelled job.
  s.ok('enqueue', '--id', 'next', '--', 'true');
  await s.waitJob('next', (j) => j.state === 'completed', 'to complete');
  const victim = s.job('victim');
  assert.is(victim.state, 'cancelled');
  assert.is(victim.attempts, 0);
  assert.equal(victim.history, []);
  assert.not.ok(fs.existsSync(ran), 'the cancelled job never ran');
  assert.match(s.ok('list', '--state', 'cancelled'), /^victim\s+cancelled\s/m);
});

scenario(cancel, 'a running job is killed with its processes, stays cancelled, and the supervisor goes on with other jobs', async (s) => {
  const marker = s.path('running');
  s.ok('enqueue', '--id', 'victim', '--', `echo $$ > '${marker}'; sleep 30`);
  const supervisor = await s.start(1);
  const group = await waitFor(() => (fs.existsSync(marker) ? Number(fs.readFileSync(marker, 'utf8')) || null : null), { what: 'the job to start' });
  assert.ok(groupAlive(group));

  const began = Date.now();
  assert.is(s.ok('cancel', 'victim'), 'cancelled victim\n');
  assert.ok(Date.now() - began < 5_000, 'sleep ends at SIGTERM, well before the 10 s kill grace');
  assert.not.ok(groupAlive(group), 'cancel returns once the job\'s processes are gone');
  assert.is(s.job('victim').state, 'cancelled');

  s.ok('enqueue', '--id', 'next', '--', 'true');
  await s.waitJob('next', (j) => j.state === 'completed', 'to complete on the same worker');
  await supervisor.waitLog(/result for job victim not recorded: it is now cancelled/);
  const victim = s.job('victim');
  assert.is(victim.state, 'cancelled', 'the killed run\'s result does not overwrite the cancel');
  assert.is(victim.attempts, 0);
  assert.is(victim.owner, null);
  assert.ok(supervisor.running);
});

scenario(cancel, 'a job cancelled after its claim but before its command started is not left running: the worker is free again within seconds', async (s) => {
  s.ok('config', 'set', 'kill-grace', '1s');
  const marker = s.path('victim-group');
  s.ok('enqueue', '--id', 'victim', '--', `echo $$ > '${marker}'; sleep 20`);
  // Widens the moment between the claim (committed) and the spawn, which otherwise lasts milliseconds.
  await s.start(1, { QUEUECTL_FAILPOINTS: 'worker-before-spawn=sleep:1500' });
  await s.waitJob('victim', (j) => j.state === 'processing', 'to be claimed');
  assert.is(s.ok('cancel', 'victim'), 'cancelled victim\n');
  assert.not.ok(fs.existsSync(marker), 'cancel came before the command started (else this test proves nothing)');

  s.ok('enqueue', '--id', 'next', '--', 'true');
  await s.waitJob('next', (j) => j.state === 'completed', 'to complete: the only worker must not stay busy with the cancelled job', 8_000);
  // The shell may have been killed after opening the marker and before writing to it: an empty marker names no group.
  const written = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : '';
  if (written !== '') {
    const group = Number(written);
    assert.not.ok(groupAlive(group), `the cancelled job's processes (group ${group}) are gone`);
  }
  assert.is(s.job('victim').state, 'cancelled');
});

scenario(cancel, 'cancelling a completed job exits 4 and changes nothing', async (s) => {
  s.ok('enqueue', '--id', 'done', '--', 'true');
  await s.start(1);
  const before = await s.waitJob('done', (j) => j.state === 'completed', 'to complete');
  const result = s.q('cancel', 'done');
  assert.is(result.status, 4);
  assert.match(result.stderr, /job "done" is already completed/);
  assert.equal(s.job('done'), before);
});

wait.run();
cancel.run();
