import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupAlive, procInfo } from '../support/supervisor-proc.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const signals = suite('worker start: signals');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  scenario(signals, `${signal} to the process group drains: the running job finishes with its real exit code, nothing new starts, exit 0, PID file removed`, async (s) => {
    const marker = s.path('started');
    s.enqueue({ id: 'running', command: `touch '${marker}'; sleep 2; exit 7`, priority: 1 }, { id: 'waiting', command: 'echo should-not-run' });
    const supervisor = await s.start(1);
    await waitFor(() => fs.existsSync(marker), { what: 'the first job to start' });
    assert.ok(s.registeredPhase(supervisor.pid) !== null, 'a running supervisor is registered');
    const workers = supervisor.workers();
    assert.is(workers.length, 1);
    // Like Ctrl+C in a terminal, the signal reaches the supervisor and its workers, not the job's own group.
    assert.ok(workers.every((pid) => procInfo(pid)?.pgid === supervisor.pid), 'the workers share the supervisor process group');

    supervisor.signalGroup(signal);
    await supervisor.waitLog(new RegExp(`${signal}: draining`));
    const exit = await supervisor.waitExit(10_000);
    assert.equal(exit, { code: 0, signal: null }, 'the supervisor exits 0 after draining');

    const job = s.job('running');
    assert.is(job.state, 'failed', 'the result of the drained job is recorded');
    assert.is(job.attempts, 1);
    assert.is(job.recoveries, 0, 'the job was not interrupted');
    assert.is(job.last_error, 'exit code 7');
    const run = job.history.at(-1);
    assert.is(run?.exit_code, 7, 'its real exit code');
    assert.is(run?.signal, null, 'it was not killed');
    assert.ok((run?.duration_ms ?? 0) >= 1_900, `it ran to its end (${run?.duration_ms} ms)`);

    const waiting = s.job('waiting');
    assert.is(waiting.state, 'pending', 'no new job starts during a drain');
    assert.is(waiting.attempts, 0);
    assert.equal(waiting.history, []);
    assert.not.ok(fs.existsSync(s.path('.queuectl', 'logs', 'waiting.log')));
    assert.not.match(supervisor.log, /job waiting started/);
    assert.is(s.registeredPhase(supervisor.pid), null, 'it is no longer registered');
  });
}

scenario(signals, 'a second signal forces: the job group gets SIGTERM, then SIGKILL after kill-grace, and the job goes back to pending without spending an attempt', async (s) => {
  s.ok('config', 'set', 'kill-grace', '1s');
  const marker = s.path('started');
  const terms = s.path('terms');
  // The job ignores SIGTERM; a helper in its process group notes when SIGTERM arrives and keeps running.
  const command = `(trap 'date +%s.%N >> ${terms}' TERM; while :; do sleep 0.1; done) & trap '' TERM; touch '${marker}'; sleep 30`;
  s.enqueue({ id: 'stubborn', command });
  const supervisor = await s.start(1);
  const started = await supervisor.waitLog(/job stubborn started on worker 1 \(pid (\d+)\)/);
  const group = Number(started[1]);
  await waitFor(() => fs.existsSync(marker), { what: 'the job to start' });

  supervisor.signalGroup('SIGTERM');
  await supervisor.waitLog(/SIGTERM: draining/);
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitLog(/SIGTERM: forcing/);

  const termAt = await waitFor(() => Number(fs.readFileSync(terms, 'utf8').split('\n')[0]), { what: 'the job group to get SIGTERM' });
  await waitFor(() => !groupAlive(group), { timeout: 10_000, what: `job process group ${group} to be killed` });
  const goneAt = Date.now() / 1000;
  // A SIGKILL at once would leave a gap near 0; the margin absorbs a slow trap under load.
  assert.ok(goneAt - termAt >= 0.5, `the job ignoring SIGTERM lived through the 1 s kill-grace (gone ${(goneAt - termAt).toFixed(3)} s after SIGTERM)`);
  assert.ok(goneAt - termAt <= 5, `SIGKILL followed the grace period (gone ${(goneAt - termAt).toFixed(3)} s after SIGTERM)`);

  const exit = await supervisor.waitExit(10_000);
  assert.is(exit.signal, null, 'the supervisor exits by itself');
  const job = s.job('stubborn');
  assert.is(job.state, 'pending', 'a forced stop puts the job back');
  assert.is(job.attempts, 0, 'without spending an attempt');
  assert.is(job.recoveries, 0, 'a forced stop is not a crash: it does not count towards the poison-pill limit');
  assert.is(job.owner, null);
  assert.is(job.history.at(-1)?.outcome, 'interrupted');
  assert.is(job.history.at(-1)?.error, 'forced stop');
  assert.is(s.registeredPhase(supervisor.pid), null, 'it is no longer registered');
});

scenario(signals, 'a drain that begins while a turn waits in the lock starts none of the jobs that turn claimed', async (s) => {
  // Every transaction of this supervisor stalls 1.5 s with the lock held.
  const supervisor = await s.start(1, { QUEUECTL_FAILPOINTS: 'in-lock=sleep:1500' });
  s.enqueue({ id: 'late', command: `touch '${s.path('ran')}'` });
  await waitFor(() => fs.existsSync(s.path('.queuectl', 'lock')), { what: 'the supervisor to take the lock for its claim' });
  process.kill(supervisor.pid, 'SIGTERM');
  assert.equal(await supervisor.waitExit(15_000), { code: 0, signal: null }, supervisor.log);
  assert.not.ok(fs.existsSync(s.path('ran')), 'the job claimed during the drain did not run');
  const job = s.job('late');
  assert.is(job.state, 'pending');
  assert.equal(job.history, []);
  assert.not.match(supervisor.log, /job late started/);
}, { backends: ['file'] });

signals.run();
