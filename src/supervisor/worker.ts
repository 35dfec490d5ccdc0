/**
 * A cluster worker: runs the job the supervisor sends, one at a time, and reports over IPC. Jobs
 * that wait for a worker wait at the supervisor, so that whichever worker comes free first
 * starts the next job in start order.
 *
 * It ignores terminal signals (Ctrl+C reaches the whole foreground group; the supervisor decides
 * what happens), and if the supervisor goes away it kills its job, whose result nobody could record.
 */
import { failpoint } from '../system/failpoint.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import { runJob, type Run, type RunRequest } from './runner.ts';

export function startWorker(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  // With its supervisor SIGKILLed the channel is gone: the write fails with EPIPE, which without a
  // callback is an uncaught 'error' event and a stack trace; the 'disconnect' below ends us anyway.
  const send = (message: FromWorker) => process.send?.(message, undefined, {}, () => {});
  let current: { id: string; run: Run; forced: boolean } | null = null;

  const start = (request: RunRequest) => {
    failpoint('worker-before-spawn');
    const run = runJob(request);
    const job = { id: request.id, run, forced: false };
    current = job;
    send({ type: 'started', id: job.id, pid: run.pid });
    failpoint('worker-after-spawn');
    // A claim that waited here past the lease may be another host's run by now.
    if (leaseUntil !== null && Date.now() >= leaseUntil) leaseLost();
    void run.result.then((result) => {
      current = null;
      send({ type: 'finished', id: job.id, result, interrupted: job.forced });
    });
  };

  // Armed once the supervisor sends a lease (PostgreSQL only); every renewal pushes it back.
  let fence: NodeJS.Timeout | null = null;
  let leaseUntil: number | null = null;
  const leaseLost = () => {
    fence = null;
    if (current?.run.interrupt('its supervisor could not renew its lease', 'SIGKILL')) current.forced = true;
  };

  process.on('message', (message: ToWorker) => {
    if (message.type === 'run') start(message.request);
    else if (message.type === 'lease') {
      leaseUntil = Date.now() + message.validForMs;
      if (fence) clearTimeout(fence);
      fence = setTimeout(leaseLost, message.validForMs);
      fence.unref();
    } else if (current && current.id === message.id) {
      const why = message.type === 'revoke' ? message.why : 'forced stop';
      if (current.run.interrupt(why, message.type === 'kill' ? 'SIGKILL' : 'SIGTERM')) current.forced = true;
    }
  });

  // When the supervisor dies, cluster's own 'disconnect' handler calls process.exit() before
  // ours could run; 'exit' handlers still run, synchronously, and a kill is synchronous.
  process.on('exit', () => current?.run.kill());
  process.on('disconnect', () => process.exit(0));

  send({ type: 'ready' });
}
