import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fromStored, type StoredJob } from '../../src/lifecycle/jobfile/keys.ts';
import type { Job } from '../../src/lifecycle/job.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, readJobs, rejects, tree, writeJobs } from './support/fixture.ts';

/** Enqueues one job per priority, in this order, with one CLI call. */
function enqueuePriorities(cwd: string, jobs: [id: string, priority: number][]): void {
  const input = jobs.map(([id, priority]) => JSON.stringify({ id, command: `echo ${id}`, priority })).join('\n');
  accepts(['enqueue', '--file', '-'], { cwd, input });
}

function listJson(cwd: string, args: string[] = []): Job[] {
  const { stdout } = accepts(['list', '--json', ...args], { cwd });
  const parsed = JSON.parse(stdout);
  assert.ok(Array.isArray(parsed), 'list --json prints an array');
  return parsed as Job[];
}

const ids = (jobs: readonly Job[]) => jobs.map((entry) => entry.id);

function seedStates(cwd: string): void {
  writeJobs(cwd, [
    job({ id: 'p1', cwd }),
    job({ id: 'c1', state: 'completed', attempts: 1, cwd }),
    deadJob('d1', 60_000, { cwd }),
    job({ id: 'p2', priority: 3, cwd }),
    job({ id: 'f1', state: 'failed', attempts: 1, last_error: 'exit code 1', cwd }),
    deadJob('d2', 60_000, { cwd }),
  ]);
}

// ---

const json = suite('list --json');

json('prints one JSON array of the job objects, every field, and nothing else', inTemp((cwd) => {
  enqueuePriorities(cwd, [['a', 0], ['b', 0]]);
  const listed = listJson(cwd);
  assert.equal(listed, readJobs(cwd).map((job) => fromStored(job as StoredJob)), 'every field: as stored, with the workflow fields at their defaults');
}));

json('prints [] for an empty queue, and creates no store', inTemp((cwd) => {
  assert.is(accepts(['list', '--json'], { cwd }).stdout, '[]\n');
  assert.is(accepts(['list'], { cwd }).stdout, 'no jobs\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

json.run();

// ---

const order = suite('list order');

order('puts higher priority first, then creation order', inTemp((cwd) => {
  enqueuePriorities(cwd, [['low', 0], ['high', 5], ['minus', -2], ['mid', 1], ['high2', 5], ['low2', 0]]);
  assert.equal(ids(listJson(cwd)), ['high', 'high2', 'mid', 'low', 'low2', 'minus']);
}));

order.run();

// ---

const filter = suite('list --state and --limit');

filter('--state shows only jobs in that state', inTemp((cwd) => {
  seedStates(cwd);
  assert.equal(ids(listJson(cwd, ['--state', 'dead'])), ['d1', 'd2']);
  assert.equal(ids(listJson(cwd, ['-s', 'pending'])), ['p2', 'p1']);
  assert.equal(listJson(cwd, ['--state', 'processing']), []);
  assert.is(accepts(['list', '--state', 'cancelled'], { cwd }).stdout, 'no cancelled jobs\n');
}));

filter('--limit keeps the first N in list order, after the state filter', inTemp((cwd) => {
  seedStates(cwd);
  assert.equal(ids(listJson(cwd, ['--limit', '2'])), ['p2', 'p1']);
  assert.equal(ids(listJson(cwd, ['--state', 'dead', '-n', '1'])), ['d1']);
  assert.equal(ids(listJson(cwd, ['--limit', '100'])).length, 6);
}));

filter.run();

// ---

const table = suite('list as a table');

table('shows one aligned row per job with runs, priority, when and last error', inTemp((cwd) => {
  seedStates(cwd);
  accepts(['enqueue', '--id', 'later', '--delay', '10m', '--priority', '9', '--', 'echo', 'a long command line that will not fit in its column at all'], { cwd });
  const lines = accepts(['list'], { cwd }).stdout.trimEnd().split('\n');
  const header = lines[0] ?? '';
  assert.match(header, /^ID\s+STATE\s+RUNS\s+PRIORITY\s+WHEN\s+COMMAND\s+LAST ERROR$/);
  assert.equal(lines.slice(1).map((line) => line.split(/\s+/)[0]), ['later', 'p2', 'p1', 'c1', 'd1', 'f1', 'd2']);
  const rows = Object.fromEntries(lines.slice(1).map((line) => [line.split(/\s+/)[0], line]));
  for (const column of ['STATE', 'RUNS', 'PRIORITY', 'WHEN', 'COMMAND']) {
    const start = header.indexOf(column);
    for (const line of lines.slice(1)) assert.match(line.slice(start - 2, start), /^ {2}$/, `${column} is aligned in: ${line}`);
  }
  assert.match(rows.later ?? '', /^later\s+pending\s+0\/3\s+9\s+due in 10m\s+echo 'a long command line that will not fit in…$/);
  assert.match(rows.d1 ?? '', /^d1\s+dead\s+3\/3\s+0\s+\S+ ago\s+false\s+exit code 1$/);
  assert.match(rows.f1 ?? '', /^f1\s+failed\s+1\/3\s+/);
}));

table.run();

// ---

const lately = suite('list: what happened lately');

/** Jobs whose last change was `minutes` ago, created in an order unlike that one. */
function seedChanges(cwd: string): void {
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  writeJobs(cwd, [
    deadJob('d-old', 50 * 60_000, { cwd }),
    job({ id: 'p-high', priority: 5, updated_at: ago(40), created_at: ago(40), cwd }),
    job({ id: 'f-new', state: 'failed', attempts: 1, last_error: 'exit code 1', updated_at: ago(1), cwd }),
    deadJob('d-new', 2 * 60_000, { cwd }),
    job({ id: 'c-mid', state: 'completed', attempts: 1, updated_at: ago(10), cwd }),
    job({ id: 'f-old', state: 'failed', attempts: 1, last_error: 'exit code 1', updated_at: ago(30), cwd }),
  ]);
}

lately('--state takes several states, comma-separated, and keeps the list order', inTemp((cwd) => {
  seedChanges(cwd);
  assert.equal(ids(listJson(cwd, ['--state', 'failed,dead'])), ['d-old', 'f-new', 'd-new', 'f-old']);
  assert.equal(ids(listJson(cwd, ['-s', 'dead,failed,dead'])), ['d-old', 'f-new', 'd-new', 'f-old']);
  assert.equal(ids(listJson(cwd, ['--state', 'completed,pending'])), ['p-high', 'c-mid']);
  assert.is(accepts(['list', '--state', 'processing,cancelled'], { cwd }).stdout, 'no processing or cancelled jobs\n');
}));

lately('an unknown state among several is refused, naming the known ones', inTemp((cwd) => {
  seedChanges(cwd);
  rejects(['list', '--state', 'failed,done'], { cwd }, { status: 2, message: /^queuectl: unknown state "done"; expected one of pending, processing, completed, failed, dead, cancelled\n$/ });
  rejects(['list', '--state', 'failed,'], { cwd }, { status: 2, message: /^queuectl: unknown state ""; expected one of pending/ });
}));

lately('--recent lists the latest change first, and --limit then keeps the N latest', inTemp((cwd) => {
  seedChanges(cwd);
  assert.equal(ids(listJson(cwd, ['--recent'])), ['f-new', 'd-new', 'c-mid', 'f-old', 'p-high', 'd-old']);
  assert.equal(ids(listJson(cwd, ['--state', 'failed,dead', '--recent', '--limit', '2'])), ['f-new', 'd-new']);
  assert.equal(ids(listJson(cwd, ['--state', 'failed,dead', '--limit', '2'])), ['d-old', 'f-new'], 'without --recent, the first two in run order');
  const lines = accepts(['list', '-r', '-n', '3'], { cwd }).stdout.trimEnd().split('\n');
  assert.equal(lines.slice(1).map((line) => line.split(/\s+/)[0]), ['f-new', 'd-new', 'c-mid']);
  assert.match(lines[1] ?? '', /\s1m ago\s/);
}));

lately('--help says what --recent does and which end --limit keeps', inTemp((cwd) => {
  const help = accepts(['list', '--help'], { cwd }).stdout.replace(/ *\n(?=\S)/g, ' ');
  assert.match(help, /--recent,-r\s+latest change first/);
  assert.match(help, /--limit,-n N\s+only the first N jobs of the list, as ordered/);
  assert.match(help, /`--limit N` keeps the first N of the list as ordered, so with `--recent` the N latest/);
  assert.match(help, /\$ queuectl list --state failed,dead --recent --limit 10/);
}));

lately.run();
