/**
 * A cluster worker: runs the jobs the supervisor sends, one at a time and in order, and reports
 * over IPC. It may hold a few more jobs, queued behind the running one, so that short jobs follow
 * each other without waiting for the supervisor's next write; if the running job turns out to be
 * long, the queued ones are handed back so that other workers can take them.
 *
 * It ignores terminal signals (Ctrl+C reaches the whole foreground group; the supervisor decides
 * what happens), and if the supervisor goes away it kills its job, whose result nobody could record.
 */
import { failpoint } from './failpoint.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import { runJob, type Run, type RunRequest } from './runner.ts';

/** A queued job waits behind a running one for at most this long before it is handed back. */
export const HAND_BACK_AFTER_MS = 100;

export function startWorker(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  const send = (message: FromWorker) => process.send?.(message);
  let current: { id: string; run: Run; forced: boolean } | null = null;
  let queue: RunRequest[] = [];
  let handBack: NodeJS.Timeout | null = null;

  const release = () => {
    if (queue.length > 0) send({ type: 'released', ids: queue.map((request) => request.id) });
    queue = [];
  };

  const startNext = () => {
    const request = queue.shift();
    if (!request) return;
    failpoint('worker-before-spawn');
    const run = runJob(request);
    const job = { id: request.id, run, forced: false };
    current = job;
    send({ type: 'started', id: job.id, pid: run.pid });
    failpoint('worker-after-spawn');
    handBack = setTimeout(release, HAND_BACK_AFTER_MS);
    void run.result.then((result) => {
      if (handBack) clearTimeout(handBack);
      current = null;
      send({ type: 'finished', id: job.id, result, interrupted: job.forced });
      startNext();
    });
  };

  process.on('message', (message: ToWorker) => {
    if (message.type === 'run') {
      queue.push(message.request);
      if (!current) startNext();
      else if (Date.now() - current.run.startedAt >= HAND_BACK_AFTER_MS) release();
    } else if (message.type === 'release') {
      release();
    } else if (message.type === 'revoke' && queue.some((request) => request.id === message.id)) {
      queue = queue.filter((request) => request.id !== message.id);
      send({ type: 'released', ids: [message.id] });
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
