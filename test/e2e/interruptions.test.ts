import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RECOVERIES } from '../../src/lifecycle/job.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** The RUN column of show's history table, with each row's outcome and error. */
function showRuns(out: string): string[][] {
  const lines = out.split('\n');
  const at = lines.findIndex((line) => /^RUN\s+STARTED/.test(line));
  return lines
    .slice(at + 1)
    .filter(Boolean)
    .map((row) => {
      const [run, , , outcome, , ...rest] = row.split(/\s{2,}/);
      return [run!, outcome!, rest.join(' ')];
    });
}

// ---

const pill = suite('the poison-pill limit counts crashes only');

scenario(pill, `${MAX_RECOVERIES} forced stops leave a job pending with no crash counted; a crash after them counts once; logs and show number the same runs`, async (s) => {
  const go = s.path('go');
  s.ok('enqueue', '--id', 'patient', '--', `echo "run $QUEUECTL_ATTEMPT"; [ -e '${go}' ] && exit 0; sleep 30`);
  for (let stop = 1; stop <= MAX_RECOVERIES; stop++) {
    const supervisor = await s.start(1);
    await supervisor.waitLog(/job patient started on worker 1/);
    s.ok('worker', 'stop', '--force', '--timeout', '20s');
    const job = s.job('patient');
    assert.is(job.state, 'pending', `forced stop ${stop} puts the job back`);
    assert.is(job.recoveries, 0, `forced stop ${stop} is not counted as a crash`);
    assert.is(job.attempts, 0);
    assert.is(job.history.length, stop, 'each forced stop is in history all the same');
  }

  const supervisor = await s.start(1);
  await supervisor.waitLog(/job patient started on worker 1/);
  fs.writeFileSync(go, '');
  process.kill(supervisor.workerInSlot(1)!, 'SIGKILL');
  const job = await s.waitJob('patient', (j) => j.state === 'completed', 'to complete after its worker died', 15_000);
  assert.is(job.recoveries, 1, 'the crash counts');
  assert.is(job.attempts, 1);
  const interrupted = [...Array<string>(MAX_RECOVERIES).fill('forced stop'), 'worker 1 killed by SIGKILL'];
  assert.equal(
    job.history.map((entry) => [entry.outcome, entry.error]),
    [...interrupted.map((why) => ['interrupted', why]), ['completed', null]],
  );

  const headers = s.ok('logs', 'patient').split('\n').filter((line) => line.startsWith('==='));
  assert.equal(
    headers.map((line) => line.replace(/ · started \S+ · /, ' · ').replace(/(after|took) \S+ ===$/, '$1 T ===')),
    [...interrupted.map((why, i) => `=== run ${i + 1} · attempt 1 · interrupted: ${why}, after T ===`), `=== run ${interrupted.length + 1} · attempt 1 · exit code 0, took T ===`],
  );
  assert.equal(showRuns(s.ok('show', 'patient')), [...interrupted.map((why, i) => [String(i + 1), 'interrupted', why]), [String(interrupted.length + 1), 'completed', '']]);
  assert.match(s.ok('show', 'patient'), /^runs:\s+1 of 3, 4 runs interrupted \(1 by a crash; 3 crashes make it dead\)$/m);
});

// ---

const crashed = suite('the log of a crashed run');

scenario(crashed, 'SIGKILL of the whole supervisor: the next supervisor ends the run\'s log with "supervisor N is gone" before the re-run', async (s) => {
  const go = s.path('go');
  s.ok('enqueue', '--id', 'orphan', '--', `echo "run $QUEUECTL_ATTEMPT"; [ -e '${go}' ] && exit 0; sleep 30`);
  const first = await s.start(1);
  await first.waitLog(/job orphan started on worker 1/);
  // The output must be in the log before the crash, or the log would hold a header alone.
  await waitFor(() => s.ok('logs', 'orphan', '--raw').includes('run 1'), { what: 'the first run to write its line' });
  first.signalGroup('SIGKILL');
  await first.waitExit();
  assert.is(s.job('orphan').state, 'processing');
  assert.match(s.ok('logs', 'orphan'), /^=== run 1 · attempt 1 · started \S+ · running ===\nrun 1\n$/);

  fs.writeFileSync(go, '');
  await s.start(1);
  const job = await s.waitJob('orphan', (j) => j.state === 'completed', 'to complete after a restart', 15_000);
  assert.equal(job.history.map((entry) => [entry.outcome, entry.error]), [['interrupted', `supervisor ${first.pid} is gone`], ['completed', null]]);
  assert.match(s.ok('logs', 'orphan'), new RegExp(`^=== run 1 · attempt 1 · started \\S+ · interrupted: supervisor ${first.pid} is gone, after \\S+ ===\\nrun 1\\n\\n=== run 2 · attempt 1 · started \\S+ · exit code 0, took \\S+ ===\\nrun 1\\n$`));
});

pill.run();
crashed.run();
