/**
 * Writing jobs back to their rows, for the operations: the rows were read FOR UPDATE in the same
 * transaction, so what the lifecycle decided on them is written as it is, in one statement. A
 * processing row names its claim in `claimed_by`; a claim made now gets a whole lease, one that
 * goes on keeps the lease it has.
 */
import type { ClientBase } from 'pg';
import type { Job } from '../../lifecycle/job.ts';
import { decodeJob, encodeJob } from './jobs.ts';

/** The supervisor id of a processing doc, as `claimed_by` holds it (see supervisorId). */
export const CLAIMED_BY = `concat_ws('/', r.doc#>>'{owner,host}', r.doc#>>'{owner,pid}', r.doc#>>'{owner,started}')`;

export async function writeJobs(client: ClientBase, jobs: readonly Job[], leaseSeconds: number): Promise<number> {
  if (jobs.length === 0) return 0;
  const result = await client.query(
    `UPDATE queuectl_jobs AS j
        SET doc = r.doc,
            claimed_by = CASE WHEN r.doc->>'state' = 'processing' THEN ${CLAIMED_BY} END,
            lease_until = CASE WHEN r.doc->>'state' <> 'processing' THEN NULL
                               WHEN j.state = 'processing' AND j.claimed_by = ${CLAIMED_BY} AND j.doc->'started_at' = r.doc->'started_at' THEN j.lease_until
                               ELSE clock_timestamp() + make_interval(secs => $2) END
       FROM jsonb_array_elements($1::jsonb) AS r(doc)
      WHERE j.id = r.doc->>'id' AND NOT j.archived`,
    [`[${jobs.map(encodeJob).join(',')}]`, leaseSeconds],
  );
  return result.rowCount ?? 0;
}

/** The jobs a query returns as `doc`, decoded, with their `seq` (their place in creation order). */
export async function selectJobs(client: ClientBase, sql: string, params: unknown[]): Promise<{ job: Job; seq: number }[]> {
  const result = await client.query<{ doc: unknown; seq: string }>(sql, params);
  return result.rows.map((row) => ({ job: decodeJob(row.doc), seq: Number(row.seq) }));
}

/** The jobs among `after` whose doc differs from `before` (by id): what a step must write. */
export function changedJobs(before: readonly Job[], after: readonly Job[]): Job[] {
  const old = new Map(before.map((job) => [job.id, encodeJob(job)]));
  return after.filter((job) => old.get(job.id) !== encodeJob(job));
}
