/**
 * `enqueue` on PostgreSQL: reads only the rows its jobs name (their ids, to refuse a taken one,
 * and their dependencies, locked FOR SHARE so that none finishes unseen while the new rows are
 * counted), checks them with the lifecycle's `checkDependencies`, and inserts. The primary key
 * settles two enqueues of one id at the same instant: the second inserts nothing and is refused.
 */
import type { ClientBase } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';
import type { Job } from '../../lifecycle/job.ts';
import { checkDependencies } from '../../lifecycle/workflow.ts';
import type { EnqueueOptions } from '../store.ts';
import { encodeJob } from './jobs.ts';
import { selectJobs } from './rows.ts';

const takenError = (job: Job, other: Job) => new QueueError('conflict', `a job with id "${job.id}" already exists (${other.state}); choose another id`);

export async function insertJobs(client: ClientBase, jobs: readonly Job[], options: EnqueueOptions = {}): Promise<void> {
  const ids = jobs.map((job) => job.id);
  const taken = await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1) AND NOT archived', [ids]);
  const byId = new Map(jobs.map((job) => [job.id, job]));
  for (const { job: other } of taken) throw (options.taken ?? takenError)(byId.get(other.id)!, other);
  const named = [...new Set(jobs.flatMap((job) => job.after))].filter((id) => !byId.has(id));
  const known = named.length === 0 ? [] : await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1) ORDER BY seq FOR SHARE', [named]);
  checkDependencies(jobs, new Map(known.map(({ job }) => [job.id, job])));
  // A new job may take the id of an archived one (ids may be reused once a job is finished):
  // the archived job gives way, and the new one takes its place at the end of creation order.
  const inserted = await client.query(
    `INSERT INTO queuectl_jobs (doc)
     SELECT r.doc FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(doc, n) ORDER BY r.n
     ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, archived = false, seq = nextval(pg_get_serial_sequence('queuectl_jobs', 'seq')), claimed_by = NULL, lease_until = NULL
      WHERE queuectl_jobs.archived`,
    [`[${jobs.map(encodeJob).join(',')}]`],
  );
  if (inserted.rowCount !== jobs.length) throw new QueueError('conflict', 'a job with one of these ids was added at the same time; choose another id');
}
