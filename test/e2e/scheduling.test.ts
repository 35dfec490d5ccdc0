import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** A command that writes the time it started, in epoch milliseconds, to `file`. */
const stampTo = (file: string) => `date +%s%3N > '${file}'`;

function stamp(file: string): number | null {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  return /^\d+$/.test(text) ? Number(text) : null;
}

// ---

const scheduling = suite('enqueue --delay and --run-at');

scenario(scheduling, 'a --delay 2s job does not start before 2 s after it was enqueued, and starts soon after', async (s) => {
  const started = s.path('started');
  await s.start(1);
  s.ok('enqueue', '--id', 'later', '--delay', '2s', '--', stampTo(started));
  const enqueued = Date.parse(s.job('later').created_at);
  assert.is(Date.parse(s.job('later').run_at) - enqueued, 2_000, 'run_at is the enqueue time + 2 s');

  const at = await waitFor(() => stamp(started), { timeout: 5_000, what: 'the delayed job to start' });
  assert.ok(at >= enqueued + 2_000, `started ${at - enqueued} ms after enqueue, expected at least 2000 ms`);
  assert.ok(at < enqueued + 3_000, `started ${at - enqueued} ms after enqueue, expected within 1 s of being due`);
  await s.waitJob('later', (j) => j.state === 'completed', 'to complete');
});

scenario(scheduling, 'a --run-at time in the past runs at once', async (s) => {
  const started = s.path('started');
  await s.start(1);
  const before = Date.now();
  s.ok('enqueue', '--id', 'overdue', '--run-at', '2000-01-01T00:00:00Z', '--', stampTo(started));
  assert.is(s.job('overdue').run_at, '2000-01-01T00:00:00.000Z');
  const at = await waitFor(() => stamp(started), { timeout: 3_000, what: 'the overdue job to start' });
  assert.ok(at - before < 1_500, `started ${at - before} ms after the enqueue began`);
});

scenario(scheduling, 'list shows "due in" for a scheduled job, and status shows the earliest next due time', async (s) => {
  s.ok('enqueue', '--id', 'hourly', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'nightly', '--run-at', '2030-01-01T02:00:00Z', '--', 'true');
  s.ok('enqueue', '--id', 'now', '--', 'true');

  const list = s.ok('list');
  const row = (id: string) => list.split('\n').find((line) => line.startsWith(`${id} `)) ?? '';
  assert.match(row('hourly'), /\bpending\b.*\bdue in 1h\b/, `list row: ${row('hourly')}`);
  assert.match(row('nightly'), /\bdue in \d+(d|y)\b/, `list row: ${row('nightly')}`);
  assert.not.match(row('now'), /due in/, `list row: ${row('now')}`);

  // `now` is due already: next_due_at is the earliest run_at of any waiting job.
  const status = s.json<{ next_due_at: string | null }>('status', '--json');
  assert.is(status.next_due_at, s.job('now').run_at);
  s.ok('cancel', 'now');
  const later = s.json<{ next_due_at: string | null }>('status', '--json');
  assert.is(later.next_due_at, s.job('hourly').run_at);
  assert.match(s.ok('status'), /total: 3, next job due in 1h/);
});

scenario(scheduling, '--run-at without a zone is local time, for a date alone as for a date and time', async (s) => {
  // Tokyo is UTC+9 all year: local midnight on 1 January 2030 is 15:00 UTC the day before.
  const tokyo = (...args: string[]) => queuectl(args, { cwd: s.dir, env: { ...s.env, TZ: 'Asia/Tokyo' } });
  assert.is(tokyo('enqueue', '--id', 'at-two', '--run-at', '2030-01-01T02:00', '--', 'true').status, 0);
  assert.is(tokyo('enqueue', '--id', 'midnight', '--run-at', '2030-01-01', '--', 'true').status, 0);
  assert.is(s.job('at-two').run_at, '2029-12-31T17:00:00.000Z');
  assert.is(s.job('midnight').run_at, '2029-12-31T15:00:00.000Z');
});

// ---

const priority = suite('enqueue --priority');

scenario(priority, 'one worker runs due jobs highest priority first, equal priorities in creation order', async (s) => {
  const order = s.path('order');
  const jobs: [string, number][] = [['zero-a', 0], ['five-a', 5], ['minus', -1], ['zero-b', 0], ['ten', 10], ['five-b', 5], ['zero-c', 0]];
  for (const [id, level] of jobs) s.ok('enqueue', '--id', id, '--priority', String(level), '--', `echo ${id} >> '${order}'`);
  await s.start(1);
  await s.waitJobs((all) => all.every((j) => j.state === 'completed'), 'every job to complete');
  const ran = fs.readFileSync(order, 'utf8').split('\n').filter(Boolean);
  assert.equal(ran, ['ten', 'five-a', 'five-b', 'zero-a', 'zero-b', 'zero-c', 'minus']);
});

// ---

const noRetry = suite('enqueue --no-retry-on');

scenario(noRetry, 'a job that exits with a --no-retry-on code is dead after one attempt, and the reason says so; other codes still retry', async (s) => {
  s.ok('config', 'set', 'backoff-base', '1');
  s.ok('enqueue', '--id', 'strict', '--no-retry-on', '3', '--max-retries', '3', '--', 'exit 3');
  s.ok('enqueue', '--id', 'other', '--no-retry-on', '3', '--max-retries', '2', '--', 'exit 4');
  const supervisor = await s.start(1);

  const strict = await s.waitJob('strict', (j) => j.state === 'dead', 'to be dead');
  assert.is(strict.attempts, 1);
  assert.is(strict.history.length, 1);
  assert.equal(strict.no_retry_on, [3]);
  assert.is(strict.last_error, 'exit code 3 (exit code 3 is never retried)');
  await supervisor.waitLog(/job strict is dead after 1 run: exit code 3 \(exit code 3 is never retried\)/);

  const other = await s.waitJob('other', (j) => j.state === 'dead', 'to be dead after its retries', 6_000);
  assert.is(other.attempts, 2, 'exit code 4 is retried');
  assert.is(other.last_error, 'exit code 4');
});

scenario(noRetry, 'config set no-retry-on 3 is the default for jobs enqueued afterwards', async (s) => {
  s.ok('config', 'set', 'no-retry-on', '3');
  s.ok('enqueue', '--id', 'strict', '--max-retries', '3', '--', 'exit 3');
  assert.equal(s.job('strict').no_retry_on, [3]);
  await s.start(1);
  const job = await s.waitJob('strict', (j) => j.state === 'dead', 'to be dead');
  assert.is(job.attempts, 1);
  assert.is(job.last_error, 'exit code 3 (exit code 3 is never retried)');
});

scheduling.run();
priority.run();
noRetry.run();
