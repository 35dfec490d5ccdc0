import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const concurrency = suite('worker start: several supervisors share one store');

interface Status {
  counts: Record<string, number>;
  supervisors: { pid: number; workers: number }[];
}

scenario(concurrency, 'runs 200 jobs exactly once across two supervisors of 3 workers each', async (s) => {
  const out = s.path('ran.txt');
  const first = await s.start(3);
  const second = await s.start(3);

  const ids = Array.from({ length: 200 }, (_, i) => `job-${String(i).padStart(3, '0')}`);
  // Runs of 0.1 s: long enough that no claims wait at a supervisor. With trivial jobs one
  // supervisor may legitimately do all the work (claims waiting there hold back the other's
  // younger starts: DECISIONS, "Start order").
  s.enqueue(...ids.map((id) => ({ id, command: `sleep 0.1; echo ${id} >> '${out}'` })));

  const during = s.json<Status>('status', '--json');
  assert.equal(during.supervisors.map((sup) => sup.pid).sort(), [first.pid, second.pid].sort(), 'status lists both supervisors while they run');
  assert.equal(during.supervisors.map((sup) => sup.workers), [3, 3]);

  const jobs = await s.waitJobs((all) => all.length === 200 && all.every((job) => job.state === 'completed'), 'all 200 jobs to complete', 90_000);
  for (const job of jobs) {
    assert.is(job.attempts, 1, `${job.id} ran once`);
    assert.is(job.recoveries, 0, `${job.id} was never recovered`);
    assert.is(job.history.length, 1, `${job.id} has one run in its history`);
  }

  const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
  assert.is(lines.length, 200, 'the shared file has one line per run');
  assert.is(new Set(lines).size, 200, 'every job ran exactly once');
  assert.equal([...lines].sort(), ids);

  const ranBy = (log: string) => new Set([...log.matchAll(/job (job-\d+) completed/g)].map((m) => m[1]));
  // A supervisor logs a completion just after it commits it: give the last lines time to arrive.
  await waitFor(() => ranBy(first.log).size + ranBy(second.log).size >= 200, { what: 'both logs to show 200 completions' }).catch(() => {});
  const byFirst = ranBy(first.log);
  const bySecond = ranBy(second.log);
  assert.ok(byFirst.size > 0 && bySecond.size > 0, `both supervisors ran jobs (${byFirst.size} and ${bySecond.size})`);
  assert.is(byFirst.size + bySecond.size, 200, 'each completion was recorded by exactly one supervisor');
  for (const id of byFirst) assert.not.ok(bySecond.has(id), `${id} completed under both supervisors`);

  const after = s.json<Status>('status', '--json');
  assert.is(after.counts.completed, 200);
  assert.is(after.supervisors.length, 2, 'both supervisors are still running once the queue is empty');
});

concurrency.run();
