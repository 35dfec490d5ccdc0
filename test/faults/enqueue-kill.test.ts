import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { BIN, cleanEnv } from '../support/cli.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';

const POINTS = [
  ['in-lock', 'old'],
  ['before-commit', 'old'],
  ['before-rename', 'old'],
  ['after-rename', 'new'],
  ['after-commit', 'new'],
] as const;

/** `queuectl enqueue ARGS` with a failpoint; it must die by SIGKILL there. */
function killedEnqueue(s: Sandbox, point: string, args: string[], input = ''): void {
  const result = spawnSync(process.execPath, [BIN, 'enqueue', ...args], {
    cwd: s.dir,
    env: cleanEnv({ E2E_SANDBOX: s.tag, QUEUECTL_FAILPOINTS: `${point}=kill` }),
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.is(result.signal, 'SIGKILL', `enqueue was killed at ${point} (status ${result.status}, stderr ${result.stderr})`);
  assert.is(result.stdout, '', 'a killed enqueue acknowledged nothing');
}

const jobsFile = (s: Sandbox) => s.path('.queuectl', 'jobs.json');
const leftovers = (s: Sandbox) => (fs.existsSync(s.home) ? fs.readdirSync(s.home).filter((name) => name.includes('.next')) : []);

/** The killed writer's lock goes stale in 5 s (the lock tests prove it); here it is stale at once. */
function expireLock(s: Sandbox): void {
  const lock = s.path('.queuectl', 'lock');
  if (!fs.existsSync(lock)) return;
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(lock, past, past);
}

/** jobs.json must be the old bytes, or parse as the old jobs, unchanged, followed by the new ones. */
function assertOldOrNew(s: Sandbox, expected: 'old' | 'new', before: string | null, oldJobs: Job[], added: string[]): void {
  if (expected === 'old') {
    if (before === null) assert.not.ok(fs.existsSync(jobsFile(s)), 'no jobs.json was created');
    else assert.is(fs.readFileSync(jobsFile(s), 'utf8'), before, 'jobs.json is byte-identical');
    return;
  }
  const jobs = (JSON.parse(fs.readFileSync(jobsFile(s), 'utf8')) as { jobs: Job[] }).jobs;
  assert.equal(jobs.slice(0, oldJobs.length), oldJobs, 'the old jobs are unchanged');
  assert.equal(jobs.slice(oldJobs.length).map((job) => job.id), added, 'every new job is there, all of a batch or none');
  assert.ok(jobs.slice(oldJobs.length).every((job) => job.state === 'pending'));
}

// ---

const kill = suite('queuectl enqueue killed at each point of its commit');

for (const [point, expected] of POINTS) {
  scenario(kill, `at ${point}: jobs.json is the ${expected} state, whole; the next enqueue sweeps the leftovers and adds its job`, async (s) => {
    s.enqueue({ id: 'a', command: 'true' }, { id: 'b', command: 'true' });
    const before = fs.readFileSync(jobsFile(s), 'utf8');
    const oldJobs = s.jobs();

    killedEnqueue(s, point, ['--id', 'new', '--', 'true']);
    assertOldOrNew(s, expected, before, oldJobs, ['new']);
    if (point === 'before-rename') assert.is(leftovers(s).filter((name) => name.startsWith('jobs.json.next')).length, 1, 'the killed writer left its staging file');

    expireLock(s);
    s.ok('enqueue', '--id', 'after', '--', 'true');
    assert.equal(leftovers(s), [], 'the leftovers are swept');
    assert.equal(s.jobs().map((job) => job.id), [...oldJobs.map((job) => job.id), ...(expected === 'new' ? ['new'] : []), 'after']);
    assert.equal(s.jobs().slice(0, oldJobs.length), oldJobs);
  });
}

for (const point of ['before-rename', 'after-rename'] as const) {
  const expected = point === 'before-rename' ? 'old' : 'new';
  scenario(kill, `a batch through --file killed at ${point}: none or all of its jobs, never some`, async (s) => {
    s.enqueue({ id: 'a', command: 'true' });
    const before = fs.readFileSync(jobsFile(s), 'utf8');
    const oldJobs = s.jobs();
    const batch = ['x', 'y', 'z'];
    killedEnqueue(s, point, ['--file', '-'], batch.map((id) => JSON.stringify({ id, command: 'true' })).join('\n'));
    assertOldOrNew(s, expected, before, oldJobs, batch);
  });
}

scenario(kill, 'the first enqueue into a fresh directory killed before its rename leaves no jobs.json, and the next one works', async (s) => {
  killedEnqueue(s, 'before-rename', ['--id', 'first', '--', 'true']);
  assertOldOrNew(s, 'old', null, [], []);
  assert.equal(JSON.parse(s.ok('list', '--json')), [], 'the store reads as an empty queue');
  expireLock(s);
  s.ok('enqueue', '--id', 'second', '--', 'true');
  assert.equal(s.jobs().map((job) => job.id), ['second']);
  assert.equal(leftovers(s), []);
});

kill.run();
