/**
 * Jobs in PostgreSQL: the row codec and the primitives the store builds on. Each primitive is one
 * short transaction that locks the rows it changes and applies the pure lifecycle functions of
 * job.ts to them; no lifecycle rule is restated in SQL. Every time comes from the database's
 * `now()` in the same transaction, never from this host's clock: hosts' clocks disagree.
 */
import type { ClientBase } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';
import { claimJob, type Job, type Owner } from '../../lifecycle/job.ts';
import { canonicalJob, fromStored, type StoredJob } from '../../lifecycle/jobfile.ts';
import { inTransaction } from './connect.ts';

/** Who holds a claim, and for how long the database keeps it theirs without a renewal. */
export interface Lease {
  /** The id of the supervisor's row in queuectl_supervisors. */
  supervisor: string;
  seconds: number;
}

/** A job as the `doc` column holds it: the jobs.json object, with nothing else in it. */
export function encodeJob(job: Job): string {
  return JSON.stringify(canonicalJob(job));
}

/** jsonb keeps no key order: the job comes back in the canonical order of jobs.json. */
export function decodeJob(doc: unknown): Job {
  return fromStored(doc as StoredJob);
}

const encodeAll = (jobs: readonly Job[]): string => `[${jobs.map(encodeJob).join(',')}]`;

// Writes `doc` (the id, state, priority and run_at columns follow it: they are generated). A
// lease belongs to a processing job only, so a job that leaves processing drops its lease.
const WRITE_DOCS = `
  UPDATE queuectl_jobs AS j
     SET doc = r.doc,
         claimed_by = CASE WHEN r.doc->>'state' = 'processing' THEN j.claimed_by END,
         lease_until = CASE WHEN r.doc->>'state' = 'processing' THEN j.lease_until END
    FROM jsonb_array_elements($1::jsonb) AS r(doc)
   WHERE j.id = r.doc->>'id'`;

/**
 * Adds jobs in the order given (their creation order), all or none. An id that exists already, or
 * twice in `jobs`, is a conflict and nothing is added.
 */
export async function insertJobs(client: ClientBase, jobs: readonly Job[]): Promise<void> {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) throw new QueueError('conflict', `the id "${job.id}" is given to two jobs; every job needs its own id`);
    seen.add(job.id);
  }
  if (jobs.length === 0) return;
  await inTransaction(client, async () => {
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO queuectl_jobs (doc)
       SELECT r.doc FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(doc, n) ORDER BY r.n
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [encodeAll(jobs)],
    );
    if (inserted.rowCount === jobs.length) return;
    const added = new Set(inserted.rows.map((row) => row.id));
    const taken = jobs.find((job) => !added.has(job.id))!;
    const other = await client.query<{ state: string }>('SELECT state FROM queuectl_jobs WHERE id = $1', [taken.id]);
    const state = other.rows[0] ? ` (${other.rows[0].state})` : '';
    throw new QueueError('conflict', `a job with id "${taken.id}" already exists${state}; choose another id`);
  });
}

/**
 * Locks the jobs `ids` (in creation order, so that two changes never deadlock), hands them to
 * `change` with the database's time, and writes back the jobs it returns that differ from what it
 * was given. `change` must be pure and return each job it keeps by its id; a missing id is a
 * not-found error. Resolves to the jobs that were written.
 */
export async function changeJobs(client: ClientBase, ids: readonly string[], change: (jobs: Job[], now: Date) => readonly Job[]): Promise<Job[]> {
  return inTransaction(client, async () => {
    const locked = await client.query<{ doc: unknown; now: Date }>('SELECT doc, now() AS now FROM queuectl_jobs WHERE id = ANY($1) ORDER BY seq FOR UPDATE', [[...ids]]);
    const before = new Map(locked.rows.map((row) => decodeJob(row.doc)).map((job) => [job.id, job]));
    const missing = ids.find((id) => !before.has(id));
    if (missing !== undefined) throw new QueueError('not-found', `no job with id "${missing}"; see queuectl list`);
    const now = locked.rows[0]?.now ?? (await databaseNow(client));
    const after = change([...before.values()], now);
    const changed = after.filter((job) => {
      const original = before.get(job.id);
      if (original === undefined) throw new Error(`changeJobs: the change returned job "${job.id}", which it was not given`);
      return job !== original && encodeJob(job) !== encodeJob(original);
    });
    if (changed.length > 0) await client.query(WRITE_DOCS, [encodeAll(changed)]);
    return changed;
  });
}

/**
 * Claims up to one due job per owner, in start order (higher priority first, then older): one
 * transaction that skips rows another claimer holds locked, so concurrent claimers never wait for
 * each other and never take the same job. Job i goes to `owners[i]`, under `lease`.
 */
export async function claimDue(client: ClientBase, owners: readonly Owner[], lease: Lease): Promise<Job[]> {
  if (owners.length === 0) return [];
  return inTransaction(client, async () => {
    const due = await client.query<{ doc: unknown; now: Date }>(
      `SELECT doc, now() AS now FROM queuectl_jobs
        WHERE state IN ('pending', 'failed') AND run_at <= now()
        ORDER BY priority DESC, seq
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [owners.length],
    );
    const claimed = due.rows.map((row, index) => claimJob(decodeJob(row.doc), owners[index]!, row.now));
    if (claimed.length === 0) return [];
    await client.query(
      `UPDATE queuectl_jobs AS j
          SET doc = r.doc, claimed_by = $2, lease_until = now() + make_interval(secs => $3)
         FROM jsonb_array_elements($1::jsonb) AS r(doc)
        WHERE j.id = r.doc->>'id'`,
      [encodeAll(claimed), lease.supervisor, lease.seconds],
    );
    return claimed;
  });
}

/** The database's clock: the start of the current transaction, or of this statement outside one. */
export async function databaseNow(client: ClientBase): Promise<Date> {
  const result = await client.query<{ now: Date }>('SELECT now() AS now');
  return result.rows[0]!.now;
}
