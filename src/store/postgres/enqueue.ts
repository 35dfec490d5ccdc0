/**
 * `enqueue` on PostgreSQL: reads only the rows its jobs name (their ids, to refuse a taken one,
 * and their dependencies, locked FOR SHARE so that none finishes unseen while the new rows are
 * counted), checks them with the lifecycle's `checkDependencies`, and inserts. The primary key
 * settles two enqueues of one id at the same instant: the second inserts nothing and is refused.
 */
import type { ClientBase } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';
import { DEFAULT_QUEUE, type Job } from '../../lifecycle/job.ts';
import { enqueueDependents } from '../../lifecycle/workflow.ts';
import type { Enqueued, EnqueueOptions } from '../store.ts';
import { encodeJob } from './jobs.ts';
import { selectJobs } from './rows.ts';

const takenError = (job: Job, other: Job) => new QueueError('conflict', `a job with id "${job.id}" already exists (${other.state}); choose another id`);

export async function insertJobs(client: ClientBase, jobs: readonly Job[], now: Date, options: EnqueueOptions = {}): Promise<Enqueued> {
  const ids = jobs.map((job) => job.id);
  const taken = await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1) AND NOT archived', [ids]);
  const byId = new Map(jobs.map((job) => [job.id, job]));
  for (const { job: other } of taken) throw (options.taken ?? takenError)(byId.get(other.id)!, other);
  const named = [...new Set(jobs.flatMap((job) => job.after))].filter((id) => !byId.has(id));
  const known = named.length === 0 ? [] : await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1) ORDER BY seq FOR SHARE', [named]);
  const settled = enqueueDependents(jobs, new Map(known.map(({ job }) => [job.id, job])), now);
  const newQueues = await unknownQueues(client, jobs);
  // A new job may take the id of an archived one (ids may be reused once a job is finished):
  // the archived job gives way, and the new one takes its place at the end of creation order.
  const inserted = await client.query(
    `INSERT INTO queuectl_jobs (doc)
     SELECT r.doc FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(doc, n) ORDER BY r.n
     ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, archived = false, seq = nextval(pg_get_serial_sequence('queuectl_jobs', 'seq')), claimed_by = NULL, lease_until = NULL
      WHERE queuectl_jobs.archived`,
    [`[${settled.jobs.map(encodeJob).join(',')}]`],
  );
  if (inserted.rowCount !== jobs.length) throw new QueueError('conflict', 'a job with one of these ids was added at the same time; choose another id');
  return { ...settled, newQueues };
}

/** The queues of `jobs` that no job and no setting names yet (one index probe per queue). */
async function unknownQueues(client: ClientBase, jobs: readonly Job[]): Promise<string[]> {
  const names = [...new Set(jobs.map((job) => job.queue))].filter((name) => name !== DEFAULT_QUEUE);
  if (names.length === 0) return [];
  const result = await client.query<{ name: string }>(
    `SELECT n AS name FROM unnest($1::text[]) AS n
      WHERE NOT EXISTS (SELECT 1 FROM queuectl_jobs j WHERE j.queue = n) AND NOT EXISTS (SELECT 1 FROM queuectl_queues q WHERE q.name = n)`,
    [names],
  );
  return result.rows.map((row) => row.name).sort();
}
