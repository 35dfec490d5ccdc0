import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { fromStored, type StoredJob } from '../../src/lifecycle/jobfile/keys.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, readJobs, tree, writeJobs } from './support/fixture.ts';

const DAY = 86_400_000;

/** Two dead jobs around a pending and a completed one, as a person might have written them. */
function seed(cwd: string): void {
  const jobs = [
    deadJob('old', 10 * DAY, { cwd, max_retries: 3 }),
    job({ id: 'waiting', cwd }),
    deadJob('recent', DAY, { cwd, max_retries: 5, attempts: 5 }),
    job({ id: 'done', state: 'completed', attempts: 1, finished_at: new Date(Date.now() - 20 * DAY).toISOString(), cwd }),
  ];
  writeJobs(cwd, jobs);
}

const byId = (jobs: readonly Job[]) => Object.fromEntries(jobs.map((entry) => [entry.id, entry]));

// ---

const list = suite('dlq list');

list('shows only dead jobs, with their runs and last error', inTemp((cwd) => {
  seed(cwd);
  const lines = accepts(['dlq', 'list'], { cwd }).stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^ID\s+STATE\s+RUNS/);
  assert.is(lines.length, 3);
  assert.match(lines[1] ?? '', /^old\s+dead\s+3\/3\s+0\s+10d ago\s+false\s+exit code 1$/);
  assert.match(lines[2] ?? '', /^recent\s+dead\s+5\/5\s+/);
}));

list('--json prints one JSON array of the dead jobs as stored, with every field', inTemp((cwd) => {
  seed(cwd);
  const { stdout } = accepts(['dlq', 'list', '--json'], { cwd });
  const stored = byId(readJobs(cwd));
  assert.equal(JSON.parse(stdout), [stored.old, stored.recent].map((job) => fromStored(job as StoredJob)));
}));

list('says the queue is empty, or prints [], without creating a store', inTemp((cwd) => {
  assert.is(accepts(['dlq', 'list'], { cwd }).stdout, 'the dead letter queue is empty\n');
  assert.is(accepts(['dlq', 'list', '--json'], { cwd }).stdout, '[]\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

list.run();

// ---

const retry = suite('dlq retry');

retry('puts one dead job back to pending with attempts 0, keeping its history and retry limit', inTemp((cwd) => {
  seed(cwd);
  const before = byId(readJobs(cwd));
  const started = Date.now();
  assert.is(accepts(['dlq', 'retry', 'recent'], { cwd }).stdout, 'retrying recent\n');
  const after = byId(readJobs(cwd));
  const retried = after.recent!;
  assert.is(retried.state, 'pending');
  assert.is(retried.attempts, 0);
  assert.is(retried.max_retries, 5);
  assert.equal(retried.history, before.recent!.history);
  assert.is(retried.history.length, 3);
  assert.is(retried.last_error, 'exit code 1');
  assert.is(retried.created_at, before.recent!.created_at);
  assert.ok(Date.parse(retried.run_at) >= started - 1000, 'due at once');
  assert.is(after.old!.state, 'dead', 'the other dead job stays dead');
  assert.equal(after.waiting, before.waiting);
  assert.equal(after.done, before.done);
  assert.equal(readJobs(cwd).map((entry) => entry.id), ['old', 'waiting', 'recent', 'done'], 'the job keeps its place in the file');
}));

retry('--all puts every dead job back and leaves the others alone', inTemp((cwd) => {
  seed(cwd);
  const before = byId(readJobs(cwd));
  assert.is(accepts(['dlq', 'retry', '--all'], { cwd }).stdout, 'retrying old\nretrying recent\n');
  const after = byId(readJobs(cwd));
  assert.equal([after.old!.state, after.old!.attempts, after.recent!.state, after.recent!.attempts], ['pending', 0, 'pending', 0]);
  assert.equal(after.waiting, before.waiting);
  assert.equal(after.done, before.done);
  assert.is(accepts(['dlq', 'list'], { cwd }).stdout, 'the dead letter queue is empty\n');
}));

retry('--all with an empty dead letter queue says so and creates nothing', inTemp((cwd) => {
  assert.is(accepts(['dlq', 'retry', '--all'], { cwd }).stdout, 'the dead letter queue is empty: nothing to retry\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

retry.run();

// ---

const purge = suite('dlq purge');

purge('deletes every dead job and nothing else', inTemp((cwd) => {
  seed(cwd);
  const before = byId(readJobs(cwd));
  assert.is(accepts(['dlq', 'purge'], { cwd }).stdout, 'purged 2 dead jobs\n');
  assert.equal(readJobs(cwd), [before.waiting, before.done]);
}));

purge('--older-than 7d deletes only jobs dead for at least a week', inTemp((cwd) => {
  seed(cwd);
  assert.is(accepts(['dlq', 'purge', '--older-than', '7d'], { cwd }).stdout, 'purged 1 dead job\n');
  assert.equal(readJobs(cwd).map((entry) => entry.id), ['waiting', 'recent', 'done']);
  assert.is(accepts(['dlq', 'purge', '--older-than', '7d'], { cwd }).stdout, 'purged 0 dead jobs\n');
  assert.equal(readJobs(cwd).map((entry) => entry.id), ['waiting', 'recent', 'done']);
}));

purge.run();
