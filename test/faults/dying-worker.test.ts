import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { procInfo } from '../support/supervisor-proc.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const dying = suite('a worker that dies before the supervisor has noticed');

scenario(dying, 'Ctrl+C while its workers are still starting (they die of it, not yet ignoring it): the supervisor exits 0 every time, it does not crash on EPIPE', async (s) => {
  s.enqueue({ id: 'waiting', command: 'true', delay: '1h' });
  const crashed: string[] = [];
  // From the moment it says it started, workers take about 0.1 s to boot.
  for (const delay of [0, 10, 20, 30, 40, 50, 60, 70, 80, 100, 120, 150]) {
    const supervisor = await s.start(2);
    await sleep(delay);
    supervisor.signalGroup('SIGINT');
    const exit = await supervisor.waitExit(10_000);
    if (exit.code !== 0) crashed.push(`Ctrl+C ${delay} ms after the start: exit ${JSON.stringify(exit)}, log:\n${supervisor.log.split('\n').slice(-8).join('\n')}`);
    assert.not.ok(fs.existsSync(s.pidFile(supervisor.pid)) && exit.code === 0, 'a drained supervisor removes its PID file');
  }
  assert.equal(crashed, [], `${crashed.length} of 12 supervisors crashed:\n${crashed.join('\n')}`);
  assert.is(s.job('waiting').state, 'pending');
});

scenario(dying, 'a drain signal that arrives just before a busy worker dies: the supervisor recovers the job and exits 0, it does not crash on EPIPE', async (s) => {
  const marker = s.path('started');
  s.enqueue({ id: 'long', command: `touch '${marker}'; sleep 30` });
  // Every transaction of the supervisor stalls 1.5 s with the lock held, its event loop blocked.
  const supervisor = await s.start(2, { QUEUECTL_FAILPOINTS: 'in-lock=sleep:1500' });
  await waitFor(() => fs.existsSync(marker), { what: 'the job to start' });
  const worker = supervisor.workerInSlot(s.job('long').owner!.worker);
  assert.ok(worker);

  // A new job wakes the supervisor for a claim: it stalls inside the lock.
  s.ok('enqueue', '--id', 'next', '--', 'true');
  await waitFor(() => fs.existsSync(s.path('.queuectl', 'lock')), { what: 'the supervisor to take the lock' });
  // Both happen while its event loop is blocked: SIGTERM first, then the busy worker's death. When
  // the loop runs again, the drain asks every busy worker to hand back its queue before the
  // supervisor has read that worker's end of the IPC channel.
  process.kill(supervisor.pid, 'SIGTERM');
  process.kill(worker!, 'SIGKILL');
  await waitFor(() => procInfo(worker!)?.state === 'Z', { what: 'the worker to die (a zombie until the supervisor reaps it)' });

  const exit = await supervisor.waitExit(15_000);
  assert.equal(exit, { code: 0, signal: null }, `a drain exits 0; the supervisor's log:\n${supervisor.log}`);
  const job = s.job('long');
  assert.is(job.state, 'pending', 'the interrupted job goes back to pending');
  assert.is(job.recoveries, 1);
  assert.is(job.attempts, 0);
});

dying.run();
