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
import type { Job } from '../../lifecycle/job.ts';
import { pickDue } from '../../lifecycle/start-order.ts';
import { claimJob } from '../../lifecycle/transition.ts';
import { EVERY_QUEUE, everyQueuePaused, WAIT_FOR_OTHERS_MS, WAITING, type Rank, type SupervisorId } from '../../lifecycle/dispatch.ts';
import type { Queues } from '../../lifecycle/queue.ts';
import { admitter } from '../../lifecycle/workflow.ts';
import { selectJobs, writeJobs } from './rows.ts';

/** Ready rows, in start order, ahead of the bar ($3, $4); $1 is now. */
const READY = `state IN ('pending', 'failed') AND blocked = 0 AND NOT archived AND run_at <= $1
   AND ($3::integer IS NULL OR priority > $3 OR (priority = $3 AND seq < $4))`;

/**
 * The claim of the queues without a limit: one statement over the claim index. Rows for free
 * workers are locked FOR NO KEY UPDATE, those that will wait here FOR UPDATE (`mode`): only the
 * latter conflict with the FOR KEY SHARE of a claim that skipped them (see settleSkipped), so a
 * claim waits only for the claims that may set a bar, never for those that start at once. $6, $7:
 * after this rank only (the waiting rows come after the rows for workers).
 */
const claimOpen = (mode: 'NO KEY UPDATE' | 'UPDATE') => `
  SELECT seq, doc FROM queuectl_jobs
   WHERE ${READY} AND queue <> ALL($2::text[])
     AND ($6::integer IS NULL OR priority < $6 OR (priority = $6 AND seq > $7))
   ORDER BY priority DESC, seq
   LIMIT $5
   FOR ${mode} SKIP LOCKED`;

/** The claim of limited queues ($2 names, $5 how many of each at most), over the per-queue index. */
const CLAIM_LIMITED = `
  SELECT c.seq, c.doc FROM unnest($2::text[], $5::integer[]) AS q(name, n)
   CROSS JOIN LATERAL (
     SELECT seq, doc FROM queuectl_jobs
      WHERE queue = q.name AND ${READY}
      ORDER BY priority DESC, seq
      LIMIT q.n
      FOR UPDATE SKIP LOCKED) AS c`;

/**
 * The first job in start order claimed by another supervisor and still waiting there for a
 * worker (worker 0, claimed less than $3 seconds ago): nothing behind it is claimed here.
 * $1 this supervisor, $2 now.
 */
export const BAR = `
  SELECT jsonb_build_array(priority, seq) AS bar FROM queuectl_jobs
   WHERE state = 'processing' AND claimed_by <> $1 AND doc#>>'{owner,worker}' = '0'
     AND queuectl_time(doc->>'started_at') > $2::timestamptz - make_interval(secs => $3)
   ORDER BY priority DESC, seq LIMIT 1`;

/** Ready rows of open queues ahead of a rank ($3, $4), with $1 now and $2 the paused queues. */
const AHEAD = `FROM queuectl_jobs
   WHERE state IN ('pending', 'failed') AND blocked = 0 AND NOT archived AND run_at <= $1 AND queue <> ALL($2::text[])
     AND (priority > $3 OR (priority = $3 AND seq < $4))`;

export interface ClaimRequest {
  self: SupervisorId;
  workers: readonly number[];
  waiting: number;
  now: Date;
  queues: Queues;
  bar: Rank | null;
  leaseSeconds: number;
  supervisorId: string;
}

/** How long a claim waits for the rows it skipped: a concurrent claim commits within milliseconds. */
const SKIPPED_WAIT_MS = 1_000;
const LOCK_NOT_AVAILABLE = '55P03';

const ahead = (rank: Rank, bar: Rank | null) => bar === null || rank[0] > bar[0] || (rank[0] === bar[0] && rank[1] < bar[1]);

/**
 * Rows ahead of this claim's first candidate that it skipped were being claimed by another
 * supervisor at that instant. Their claims are waited for (a lock that conflicts with theirs,
 * released by their commit: milliseconds) and the bar is read again, so that nothing is claimed
 * here behind a job that has just been claimed to wait elsewhere. Only rows ahead of the first
 * candidate are waited for, so two claims never wait for each other.
 */
async function settleSkipped(client: ClientBase, request: ClaimRequest, first: Rank, paused: string[]): Promise<Rank | null> {
  const params = [request.now, paused, first[0], first[1]];
  const skipped = await client.query<{ n: number }>(`SELECT count(*)::integer AS n ${AHEAD}`, params);
  if (skipped.rows[0]!.n === 0) return request.bar;
  // A row held longer than a claim takes (an admin transaction, a stuck session) is not waited for.
  await client.query(`SAVEPOINT settle; SET LOCAL lock_timeout = '${SKIPPED_WAIT_MS}ms'`);
  try {
    await client.query(`SELECT seq ${AHEAD} FOR KEY SHARE`, params);
  } catch (error) {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    await client.query('ROLLBACK TO SAVEPOINT settle');
    return request.bar;
  }
  // Only the wait was wanted: the shared locks go (a claim holding them could make a later
  // result of their new owner wait for it), and so does the lock timeout.
  await client.query('ROLLBACK TO SAVEPOINT settle');
  const bar = await client.query<{ bar: [number, string] }>(BAR, [request.supervisorId, request.now, WAIT_FOR_OTHERS_MS / 1000]);
  const row = bar.rows[0]?.bar;
  return row ? [row[0], Number(row[1])] : null;
}

export async function claimDue(client: ClientBase, request: ClaimRequest): Promise<{ claimed: Job[]; bar: Rank | null }> {
  const limit = request.workers.length + request.waiting;
  const { queues } = request;
  if (limit <= 0 || everyQueuePaused(queues)) return { claimed: [], bar: request.bar };
  const names = Object.keys(queues).filter((name) => name !== EVERY_QUEUE);
  const closed = names.filter((name) => queues[name]!.paused || queues[name]!.parallel !== null);
  const limited = names.filter((name) => !queues[name]!.paused && queues[name]!.parallel !== null && queues[name]!.parallel! > 0);
  const barParams = request.bar ? [request.bar[0], request.bar[1]] : [null, null];
  const forWorkers = await selectJobs(client, claimOpen('NO KEY UPDATE'), [request.now, closed, ...barParams, request.workers.length, null, null]);
  const last = forWorkers.at(-1);
  const toWait =
    request.waiting > 0 && forWorkers.length === request.workers.length
      ? await selectJobs(client, claimOpen('UPDATE'), [request.now, closed, ...barParams, request.waiting, last?.job.priority ?? null, last?.seq ?? null])
      : [];
  const open = [...forWorkers, ...toWait];
  let candidates = open;
  let context: Job[] = [];
  let admitted = queues;
  if (limited.length > 0) {
    const more = await selectJobs(client, CLAIM_LIMITED, [request.now, limited, ...barParams, limited.map((name) => Math.min(limit, queues[name]!.parallel!))]);
    if (more.length > 0) {
      const locked = await lockQueues(client, [...new Set(more.map((row) => row.job.queue))]);
      admitted = { ...queues, ...locked.queues };
      context = locked.running;
      candidates = [...open, ...more].sort((a, b) => b.job.priority - a.job.priority || a.seq - b.seq);
    }
  }
  const first = candidates[0];
  // A claim that holds queue rows never waits for skipped job rows: the claim locking those may be
  // waiting for these very queue rows (a deadlock). It keeps the bar it was given instead.
  const holdsQueues = context.length > 0 || admitted !== queues;
  const bar = first && !holdsQueues ? await settleSkipped(client, request, [first.job.priority, first.seq], names.filter((name) => queues[name]!.paused)) : request.bar;
  candidates = candidates.filter((row) => ahead([row.job.priority, row.seq], bar));
  // Candidates first in start order: pickDue's tie-break is the position in the array.
  const picked = pickDue([...candidates.map((row) => row.job), ...context], request.now, limit, { admit: admitter(admitted) });
  const claimed = picked.map((job, i) => claimJob(job, { ...request.self, worker: request.workers[i] ?? WAITING }, request.now));
  await writeJobs(client, claimed, request.leaseSeconds);
  return { claimed, bar };
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
