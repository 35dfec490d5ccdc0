/**
 * A cluster worker: runs one job at a time for the supervisor and reports over IPC. It ignores
 * terminal signals (Ctrl+C reaches the whole foreground group; the supervisor decides what
 * happens), and if the supervisor goes away it kills its job, whose result nobody could record.
 */
import { failpoint } from './failpoint.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import { runJob, type Run } from './runner.ts';

export function startWorker(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  const send = (message: FromWorker) => process.send?.(message);
  let current: { id: string; run: Run; forced: boolean } | null = null;

  process.on('message', (message: ToWorker) => {
    if (message.type === 'run') {
      if (current) throw new Error(`worker asked to run ${message.request.id} while running ${current.id}`);
      failpoint('worker-before-spawn');
      const run = runJob(message.request);
      const job = { id: message.request.id, run, forced: false };
      current = job;
      send({ type: 'started', id: job.id, pid: run.pid });
      failpoint('worker-after-spawn');
      void run.result.then((result) => {
        current = null;
        send({ type: 'finished', id: job.id, result, interrupted: job.forced });
      });
    } else if (current && current.id === message.id) {
      if (message.type === 'stop') {
        current.forced = true;
        current.run.stop('forced');
      } else {
        current.forced = true;
        current.run.kill();
      }
    }
  });

  // When the supervisor dies, cluster's own 'disconnect' handler calls process.exit() before
  // ours could run; 'exit' handlers still run, synchronously, and a kill is synchronous.
  process.on('exit', () => current?.run.kill());
  process.on('disconnect', () => process.exit(0));

  send({ type: 'ready' });
}
