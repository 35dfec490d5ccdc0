import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';

const restart = suite('worker start: a full restart');

scenario(restart, 'keeps pending and retrying jobs: after a drain-stop and a restart they run', async (s) => {
  s.ok('config', 'set', 'backoff-base', '3');
  const out = s.path('ran.txt');
  // Due well after the first supervisor has seen a failure and stopped, even on a loaded machine.
  const delayed = ['later-1', 'later-2', 'later-3'];
  // Fails on its first run only, then waits out a 3 s backoff.
  s.enqueue(
    ...delayed.map((id) => ({ id, command: `echo ${id} >> '${out}'`, delay: '8s' })),
    { id: 'retrying', command: `if [ -e '${out}.once' ]; then echo retrying >> '${out}'; else touch '${out}.once'; exit 1; fi` },
  );
  const first = await s.start(2);
  await s.waitJob('retrying', (job) => job.state === 'failed', 'to fail once');
  const stopped = s.q('worker', 'stop');
  assert.is(stopped.status, 0, stopped.stderr);
  assert.equal(await first.waitExit(), { code: 0, signal: null });

  const before = new Map(s.jobs().map((job) => [job.id, job]));
  for (const id of delayed) {
    assert.is(before.get(id)?.state, 'pending', `${id} is still pending after the stop`);
    assert.is(before.get(id)?.attempts, 0);
  }
  assert.is(before.get('retrying')?.state, 'failed');
  assert.is(before.get('retrying')?.attempts, 1);
  assert.not.ok(fs.existsSync(out), 'nothing ran before the stop');

  const second = await s.start(2);
  const jobs = await s.waitJobs((all) => all.every((job) => job.state === 'completed'), 'every job to complete after the restart', 25_000);
  for (const job of jobs) {
    assert.is(job.attempts, job.id === 'retrying' ? 2 : 1, `${job.id} attempts`);
    assert.is(job.recoveries, 0);
    assert.is(job.run_at, before.get(job.id)?.run_at, `${job.id} kept its schedule across the restart`);
  }
  assert.equal(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).sort(), [...delayed, 'retrying'].sort());
  for (const id of [...delayed, 'retrying']) await second.waitLog(new RegExp(`job ${id} completed`));
});

restart.run();
