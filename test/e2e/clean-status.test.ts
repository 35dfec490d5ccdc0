import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { BIN, cleanEnv } from '../support/cli.ts';
import type { Sandbox } from '../support/supervisor-sandbox.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** A queuectl command left running, with what it printed so far; the sandbox kills it at the end. */
class Background {
  readonly child: ChildProcess;
  stdout = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(s: Sandbox, args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: s.dir, env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    this.child.on('close', (code, signal) => (this.exit = { code, signal }));
  }
}

/** A command run by `script` on a pseudo-terminal; what the terminal shows, so far. */
class ScriptedTerminal {
  readonly child: ChildProcess;
  stdout = '';

  constructor(s: Sandbox, command: string) {
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: s.dir, env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
  }
}

const logOf = (s: Sandbox, id: string) => s.path('.queuectl', 'logs', `${id}.log`);

/**
 * Two completed jobs, a dead one, a cancelled one, one failed and waiting for a retry far off,
 * and one scheduled far off; then the supervisor is stopped, so jobs.json no longer changes.
 */
async function finishedMix(s: Sandbox): Promise<void> {
  s.ok('config', 'set', 'backoff-base', '600');
  s.ok('enqueue', '--id', 'c1', '--', 'echo one');
  s.ok('enqueue', '--id', 'c2', '--', 'echo two');
  s.ok('enqueue', '--id', 'd1', '--max-retries', '1', '--', 'echo dying; exit 1');
  s.ok('enqueue', '--id', 'f1', '--max-retries', '3', '--', 'echo failing; exit 1');
  s.ok('enqueue', '--id', 'x1', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'p1', '--delay', '1h', '--', 'true');
  s.ok('cancel', 'x1');
  await s.start(2);
  await s.waitJobs((jobs) => jobs.filter((j) => j.state === 'completed').length === 2 && jobs.some((j) => j.id === 'd1' && j.state === 'dead') && jobs.some((j) => j.id === 'f1' && j.state === 'failed'), 'c1 and c2 completed, d1 dead, f1 failed');
  assert.match(s.ok('worker', 'stop'), /stopped 1 supervisor/);
  for (const id of ['c1', 'c2', 'd1', 'f1']) assert.ok(fs.existsSync(logOf(s, id)), `${id} has a log`);
}

const states = (s: Sandbox) => Object.fromEntries(s.jobs().map((job) => [job.id, job.state]));

// ---

const clean = suite('clean and dlq purge');

scenario(clean, 'clean --older-than 1h removes nothing that finished within the hour, and removes what finished before', async (s) => {
  await finishedMix(s);
  const jobsFile = s.path('.queuectl', 'jobs.json');
  const before = fs.readFileSync(jobsFile, 'utf8');
  assert.is(s.ok('clean', '--older-than', '1h'), 'removed 0 finished jobs\n');
  assert.is(fs.readFileSync(jobsFile, 'utf8'), before, 'jobs.json is unchanged');
  for (const id of ['c1', 'c2', 'd1']) assert.ok(fs.existsSync(logOf(s, id)), `${id} keeps its log`);

  // Hand-edit c1 to have finished two hours ago (the README allows editing jobs.json).
  const doc = JSON.parse(before) as { jobs: Job[] };
  const old = new Date(Date.now() - 2 * 3_600_000).toISOString();
  doc.jobs = doc.jobs.map((job) => (job.id === 'c1' ? { ...job, finished_at: old, updated_at: old } : job));
  fs.writeFileSync(jobsFile, `${JSON.stringify(doc, null, 2)}\n`);
  assert.is(s.ok('clean', '--older-than', '1h'), 'removed 1 finished job\n');
  assert.equal(states(s), { c2: 'completed', d1: 'dead', f1: 'failed', x1: 'cancelled', p1: 'pending' });
  assert.not.ok(fs.existsSync(logOf(s, 'c1')), 'c1\'s log is gone with it');
  assert.ok(fs.existsSync(logOf(s, 'c2')));
}, { backends: ['file'] });

scenario(clean, 'clean removes every completed and cancelled job with its log, and keeps dead, pending and failed ones', async (s) => {
  await finishedMix(s);
  const kept = '; 1 dead job kept (delete with: queuectl clean --state dead)';
  assert.is(s.ok('clean'), `removed 3 finished jobs${kept}\n`);
  assert.equal(states(s), { d1: 'dead', f1: 'failed', p1: 'pending' });
  for (const id of ['c1', 'c2']) assert.not.ok(fs.existsSync(logOf(s, id)), `${id}'s log is gone`);
  for (const id of ['d1', 'f1']) assert.ok(fs.existsSync(logOf(s, id)), `${id} keeps its log`);
  assert.is(s.q('show', 'c1').status, 3);
  assert.is(s.ok('clean'), `removed 0 finished jobs${kept}\n`);
  assert.is(s.ok('clean', '--state', 'dead'), 'removed 1 finished job\n');
  assert.equal(states(s), { f1: 'failed', p1: 'pending' });
  assert.not.ok(fs.existsSync(logOf(s, 'd1')), 'd1\'s log is gone with it');
});

scenario(clean, 'dlq purge removes dead jobs only, with their logs', async (s) => {
  await finishedMix(s);
  assert.is(s.ok('dlq', 'purge'), 'purged 1 dead job\n');
  assert.equal(states(s), { c1: 'completed', c2: 'completed', f1: 'failed', x1: 'cancelled', p1: 'pending' });
  assert.not.ok(fs.existsSync(logOf(s, 'd1')));
  for (const id of ['c1', 'c2', 'f1']) assert.ok(fs.existsSync(logOf(s, id)), `${id} keeps its log`);
  assert.equal(s.json<Job[]>('dlq', 'list', '--json'), []);
});

// ---

interface StatusJson {
  counts: Record<string, number>;
  metrics: {
    last_minute: { completed: number; failed: number };
    last_hour: { completed: number; failed: number };
    mean_duration_ms: number | null;
    p95_duration_ms: number | null;
  };
}

const status = suite('status metrics and --watch');

scenario(status, 'status --json counts the last minute\'s completed and failed attempts, with the mean and p95 duration', async (s) => {
  s.ok('config', 'set', 'backoff-base', '1');
  s.ok('enqueue', '--id', 'ok1', '--', 'sleep 0.1');
  s.ok('enqueue', '--id', 'ok2', '--', 'sleep 0.3');
  s.ok('enqueue', '--id', 'ok3', '--', 'true');
  s.ok('enqueue', '--id', 'bad', '--max-retries', '2', '--', 'exit 1');
  s.ok('enqueue', '--id', 'slow', '--max-retries', '1', '--timeout', '300ms', '--', 'sleep 5');
  await s.start(2);
  const jobs = await s.waitJobs((all) => all.every((j) => j.state === 'completed' || j.state === 'dead'), 'every job to finish', 8_000);

  const status = s.json<StatusJson>('status', '--json');
  assert.equal(status.counts, { pending: 0, processing: 0, completed: 3, failed: 0, dead: 2, cancelled: 0 });
  // bad failed twice; slow timed out once: a timeout is a failed attempt.
  assert.equal(status.metrics.last_minute, { completed: 3, failed: 3 });
  assert.equal(status.metrics.last_hour, { completed: 3, failed: 3 });
  const durations = jobs.flatMap((job) => job.history.map((attempt) => attempt.duration_ms)).sort((a, b) => a - b);
  assert.is(durations.length, 6);
  assert.is(status.metrics.mean_duration_ms, Math.round(durations.reduce((sum, d) => sum + d, 0) / durations.length));
  assert.is(status.metrics.p95_duration_ms, durations[5], 'of six durations, the 95th percentile is the largest');
  assert.ok(status.metrics.p95_duration_ms! >= 300);
  assert.match(s.ok('status'), /^last minute: 3 completed, 3 failed; last hour: 3 completed, 3 failed; duration mean \d+ms, p95 \d+ms$/m);
});

scenario(status, 'status --watch into a pipe prints plain snapshots, a blank line between them, when the queue changes, and exits on SIGINT', async (s) => {
  const frames = (watch: Background) => watch.stdout.split(/^(?=STATE\s+JOBS$)/m).filter(Boolean);
  const watch = new Background(s, ['status', '--watch']);
  await waitFor(() => frames(watch).some((frame) => /^pending\s+0$/m.test(frame)), { timeout: 5_000, what: `a first snapshot; printed:\n${watch.stdout}` });
  s.ok('enqueue', '--id', 'new', '--delay', '1h', '--', 'true');
  await waitFor(() => frames(watch).some((frame) => /^pending\s+1$/m.test(frame) && /next job due in/.test(frame)), { timeout: 3_000, what: `a snapshot with the new job; printed:\n${watch.stdout}` });
  assert.is(watch.exit, null, 'it keeps printing');

  watch.child.kill('SIGINT');
  const exit = await waitFor(() => watch.exit, { timeout: 3_000, what: 'status --watch to exit after SIGINT' });
  assert.equal(exit, { code: 0, signal: null });
  assert.not.ok(watch.stdout.includes('\x1b'), `no terminal escape codes in a pipe: ${JSON.stringify(watch.stdout.slice(0, 80))}`);
  const all = frames(watch);
  assert.ok(all.length >= 2);
  for (const frame of all.slice(0, -1)) assert.ok(frame.endsWith('\n\n'), `a blank line ends each snapshot but the last: ${JSON.stringify(frame.slice(-60))}`);
  assert.ok(all[0]!.startsWith('STATE'), 'the first snapshot starts at once');
});

scenario(status, 'status --watch in a terminal clears the screen before each redraw', async (s) => {
  // `script` gives the command a pseudo-terminal as stdout, as a user's terminal would.
  const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} status --watch`;
  const watch = new ScriptedTerminal(s, command);
  const clear = '\x1b[H\x1b[2J';
  await waitFor(() => watch.stdout.split(clear).length >= 2 && /pending\s+0/.test(watch.stdout), { timeout: 5_000, what: `a first frame; printed:\n${JSON.stringify(watch.stdout)}` });
  s.ok('enqueue', '--id', 'new', '--delay', '1h', '--', 'true');
  await waitFor(() => watch.stdout.split(clear).slice(1).some((frame) => /pending\s+1/.test(frame)), { timeout: 3_000, what: `a redrawn frame; printed:\n${JSON.stringify(watch.stdout)}` });
  assert.ok(watch.stdout.split(clear).length >= 3, 'the screen was cleared before each frame');
});

clean.run();
status.run();
