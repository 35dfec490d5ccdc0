/**
 * A turn's results on PostgreSQL: the rows of the jobs it reports on are locked and read, the
 * lifecycle's `takeTurn` records them on those rows alone (each fenced by its claim: the
 * supervisor and the instant of the claim), and the changed rows are written in one statement.
 * Jobs that ended dead or cancelled end their waiting dependents, down chains, in the same
 * transaction: the dependents are found through the index on `after`, never by a scan.
 */
import type { ClientBase } from 'pg';
import type { Backoff } from '../../lifecycle/backoff.ts';
import { takeTurn, turnOf, type Event } from '../../lifecycle/dispatch.ts';
import type { Job } from '../../lifecycle/job.ts';
import { endBlocked } from '../../lifecycle/workflow.ts';
import type { TurnRequest } from '../store.ts';
import { changedJobs, selectJobs, writeJobs } from './rows.ts';

const ENDED = new Set(['dead', 'cancelled']);

export async function recordResults(client: ClientBase, request: TurnRequest, now: Date, backoffBase: number | Backoff, leaseSeconds: number): Promise<{ events: Event[]; written: Job[] }> {
  const ids = [...new Set([...request.finished, ...request.interrupted, ...request.released, ...request.placed].map((item) => item.id))];
  if (ids.length === 0) return { events: [], written: [] };
  const rows = (await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1) AND NOT archived ORDER BY seq FOR UPDATE', [ids])).map((row) => row.job);
  const turn = turnOf(request, { workers: [], waiting: 0, backoffBase });
  const result = takeTurn(rows, turn, now);
  const written = changedJobs(rows, result.jobs);
  await writeJobs(client, written, leaseSeconds);
  const ended = written.filter((job) => ENDED.has(job.state));
  const dependents = await endDependents(client, ended, now, leaseSeconds);
  return { events: [...result.events, ...dependents.map((job) => ({ kind: 'blocked' as const, job }))], written: [...written, ...dependents] };
}

/** Ends the waiting dependents of `ended` (dead or cancelled jobs), and theirs, as `endBlocked` decides. */
export async function endDependents(client: ClientBase, ended: readonly Job[], now: Date, leaseSeconds: number): Promise<Job[]> {
  const all: Job[] = [];
  for (let frontier = [...ended]; frontier.length > 0; ) {
    const dependents = (
      await selectJobs(
        client,
        `SELECT seq, doc FROM queuectl_jobs
          WHERE doc ? 'after' AND NOT archived AND doc->'after' ?| $1::text[] AND state IN ('pending', 'failed')
          ORDER BY seq FOR UPDATE`,
        [frontier.map((job) => job.id)],
      )
    ).map((row) => row.job);
    if (dependents.length === 0) break;
    const settled = endBlocked([...frontier, ...dependents], now);
    await writeJobs(client, settled.ended, leaseSeconds);
    all.push(...settled.ended);
    frontier = settled.ended;
  }
  return all;
}

/**
 * Retention (`keep_finished`) on the hot path: once more than `keep` and a tenth of it are
 * finished live rows, the oldest completed and cancelled ones are marked archived, down to
 * `keep`. They were out of the claim index already; this keeps the live set that whole-queue
 * commands read small. Dependencies stay correct: an archived row keeps its state.
 */
export async function archiveFinished(client: ClientBase, keep: number): Promise<number> {
  const result = await client.query(
    `WITH finished AS (
       SELECT seq, count(*) OVER () AS total, row_number() OVER (ORDER BY doc->>'finished_at' DESC, seq DESC) AS newest
         FROM queuectl_jobs WHERE NOT archived AND state IN ('completed', 'cancelled'))
     UPDATE queuectl_jobs j SET archived = true FROM finished f
      WHERE j.seq = f.seq AND f.total > $1 + greatest(1, floor($1 / 10.0)) AND f.newest > $1`,
    [keep],
  );
  return result.rowCount ?? 0;
}
