/**
 * Claims on PostgreSQL without a shared lock. SQL picks the candidates: due rows of the claim
 * index (ready: pending or failed, no unfinished dependency, not archived) in start order,
 * skipping paused queues and anything behind a job that waits to start at another supervisor,
 * `LIMIT` the free slots, `FOR UPDATE SKIP LOCKED` so that concurrent claims take different
 * rows. A queue with a limit is claimed from under its row's lock, counting its processing jobs
 * after the lock is held, so that the limit holds exactly across hosts. The lifecycle then
 * decides (`pickDue` with the queues' admission, `claimJob`), and one statement writes the claims.
 */
import type { ClientBase } from 'pg';
import { claimJob, pickDue, type Job } from '../../lifecycle/job.ts';
import { EVERY_QUEUE, everyQueuePaused, WAITING, type Rank, type SupervisorId } from '../../lifecycle/dispatch.ts';
import type { Queues } from '../../lifecycle/queue.ts';
import { admitter } from '../../lifecycle/workflow.ts';
import { selectJobs, writeJobs } from './rows.ts';

/** Ready rows, in start order, ahead of the bar ($3, $4); $1 is now. */
const READY = `state IN ('pending', 'failed') AND blocked = 0 AND NOT archived AND run_at <= $1
   AND ($3::integer IS NULL OR priority > $3 OR (priority = $3 AND seq < $4))`;

/** The claim of the queues without a limit: one statement over the claim index. */
const CLAIM_OPEN = `
  SELECT seq, doc FROM queuectl_jobs
   WHERE ${READY} AND queue <> ALL($2::text[])
   ORDER BY priority DESC, seq
   LIMIT $5
   FOR UPDATE SKIP LOCKED`;

/** The claim of limited queues ($2 names, $5 how many of each at most), over the per-queue index. */
const CLAIM_LIMITED = `
  SELECT c.seq, c.doc FROM unnest($2::text[], $5::integer[]) AS q(name, n)
   CROSS JOIN LATERAL (
     SELECT seq, doc FROM queuectl_jobs
      WHERE queue = q.name AND ${READY}
      ORDER BY priority DESC, seq
      LIMIT q.n
      FOR UPDATE SKIP LOCKED) AS c`;

export interface ClaimRequest {
  self: SupervisorId;
  workers: readonly number[];
  waiting: number;
  now: Date;
  queues: Queues;
  bar: Rank | null;
  leaseSeconds: number;
}

export async function claimDue(client: ClientBase, request: ClaimRequest): Promise<Job[]> {
  const limit = request.workers.length + request.waiting;
  const { queues } = request;
  if (limit <= 0 || everyQueuePaused(queues)) return [];
  const names = Object.keys(queues).filter((name) => name !== EVERY_QUEUE);
  const closed = names.filter((name) => queues[name]!.paused || queues[name]!.parallel !== null);
  const limited = names.filter((name) => !queues[name]!.paused && queues[name]!.parallel !== null && queues[name]!.parallel! > 0);
  const bar = request.bar ? [request.bar[0], request.bar[1]] : [null, null];
  const open = await selectJobs(client, CLAIM_OPEN, [request.now, closed, ...bar, limit]);
  let candidates = open;
  let context: Job[] = [];
  let admitted = queues;
  if (limited.length > 0) {
    const more = await selectJobs(client, CLAIM_LIMITED, [request.now, limited, ...bar, limited.map((name) => Math.min(limit, queues[name]!.parallel!))]);
    if (more.length > 0) {
      const locked = await lockQueues(client, [...new Set(more.map((row) => row.job.queue))]);
      admitted = { ...queues, ...locked.queues };
      context = locked.running;
      candidates = [...open, ...more].sort((a, b) => b.job.priority - a.job.priority || a.seq - b.seq);
    }
  }
  // Candidates first in start order: pickDue's tie-break is the position in the array.
  const picked = pickDue([...candidates.map((row) => row.job), ...context], request.now, limit, { admit: admitter(admitted) });
  const claimed = picked.map((job, i) => claimJob(job, { ...request.self, worker: request.workers[i] ?? WAITING }, request.now));
  await writeJobs(client, claimed, request.leaseSeconds);
  return claimed;
}

/**
 * Locks the rows of these limited queues (in name order, so that two claims never wait for each
 * other in a cycle), then reads their settings and processing jobs as they are once the lock is
 * held: whoever held it before has committed, and its claims are counted.
 */
async function lockQueues(client: ClientBase, names: string[]): Promise<{ queues: Queues; running: Job[] }> {
  const rows = await client.query<{ name: string; parallel: number | null; paused: boolean }>(
    'SELECT name, parallel, paused FROM queuectl_queues WHERE name = ANY($1) ORDER BY name FOR UPDATE',
    [names.sort()],
  );
  const queues: Queues = Object.fromEntries(rows.rows.map((row) => [row.name, { parallel: row.parallel, paused: row.paused }]));
  const running = await selectJobs(client, `SELECT seq, doc FROM queuectl_jobs WHERE state = 'processing' AND queue = ANY($1)`, [names]);
  return { queues, running: running.map((row) => row.job) };
}
