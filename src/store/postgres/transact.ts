/**
 * Whole-queue changes on PostgreSQL (`transact`): the file store's transaction on rows, for admin
 * commands. Read the live jobs, apply the same synchronous `fn`, write back only the rows that
 * changed, each guarded by the document it replaces (the fence: a row changed meanwhile, by an
 * operation or anything else, fails the transaction, which runs again on fresh rows). These take
 * an advisory lock among themselves; the operations (enqueue, turns) never do.
 *
 * Inside a change the clock is read with `clock_timestamp()`, not `now()`: `now()` is when the
 * transaction began, before it waited for the lock, and a claim written after a long wait would
 * get a lease already partly spent.
 */
import type { PoolClient } from 'pg';
import { applyEnv, type Config } from '../../lifecycle/config.ts';
import { QueueError } from '../../lifecycle/error.ts';
import type { Job } from '../../lifecycle/job.ts';
import { FORMAT_VERSION, type JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { jobsToArchive } from '../../lifecycle/retention.ts';
import { endBlocked } from '../../lifecycle/workflow.ts';
import type { TransactOptions, Transaction } from '../store.ts';
import { inTransaction } from './connect.ts';
import { Fenced, type Database } from './database.ts';
import { decodeJob, encodeJob } from './jobs.ts';
import { CHANGES_CHANNEL } from './listen.ts';
import type { Settings } from './settings.ts';

/**
 * Every whole-queue transaction (`transact`, `updateConfig`) takes this transaction-scoped
 * advisory lock: those are serial among themselves. The operations (enqueue, turns) never take
 * it: against them a transaction's writes are guarded by the fence.
 */
export const CHANGE_LOCK = 0x71637478;
/** How many times a transaction refused by the fence runs again on fresh rows. */
const FENCE_RETRIES = 5;

export class Transactions {
  constructor(
    private readonly db: Database,
    private readonly settings: Settings,
    private readonly env: NodeJS.ProcessEnv,
    private readonly leaseSeconds: number,
    private readonly token: string,
  ) {}

  /** The live jobs, the queue settings and schedules, and the archived totals, in one statement (one snapshot). */
  async snapshot(client: PoolClient): Promise<JobsDocument> {
    const result = await client.query<{ jobs: unknown[]; queues: JobsDocument['queues'] | null; schedules: JobsDocument['schedules'] | null; archived: Record<string, number> | null; now: Date }>(`
      SELECT (SELECT coalesce(jsonb_agg(doc ORDER BY seq), '[]'::jsonb) FROM queuectl_jobs WHERE NOT archived) AS jobs,
             (SELECT jsonb_object_agg(name, jsonb_build_object('parallel', parallel, 'paused', paused) ORDER BY name) FROM queuectl_queues) AS queues,
             (SELECT value FROM queuectl_meta WHERE key = 'schedules') AS schedules,
             (SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM queuectl_jobs WHERE archived GROUP BY state) AS c) AS archived,
             clock_timestamp() AS now`);
    const row = result.rows[0]!;
    this.db.offsetMs = row.now.getTime() - Date.now();
    const doc: JobsDocument = { version: FORMAT_VERSION, jobs: row.jobs.map(decodeJob) };
    if (row.archived) doc.archived = { completed: Number(row.archived.completed ?? 0), cancelled: Number(row.archived.cancelled ?? 0) };
    if (row.queues) doc.queues = row.queues;
    if (row.schedules) doc.schedules = row.schedules;
    return doc;
  }

  async transact<T>(fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.withClient((client) => inTransaction(client, () => this.change(client, fn, options)));
      } catch (error) {
        // A deadlock with a concurrent operation is the fence's case too: nothing was written.
        if (!(error instanceof Fenced) && (error as { code?: string })?.code !== '40P01') throw error;
        if (attempt >= FENCE_RETRIES) throw new QueueError('busy', `jobs kept changing under this transaction: ${(error as Error).message}`);
      }
    }
  }

  private async change<T>(client: PoolClient, fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions): Promise<T> {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOCK]);
    const config = applyEnv((await this.settings.storedConfig(client)).config, this.env);
    const doc = await this.snapshot(client);
    const before = new Map(doc.jobs.map((job) => [job.id, encodeJob(job)]));
    const meta = { queues: JSON.stringify(doc.queues ?? null), schedules: JSON.stringify(doc.schedules ?? null) };
    const archived = await this.archivedJobs(client, options.archive, new Set(before.keys()));
    const forgotten: Job[] = [];
    const result = fn(doc, config, { archived, forget: (jobs) => void forgotten.push(...jobs) });
    // A job this change ended dead or cancelled ends its waiting dependents in the same commit:
    // no supervisor's turn reads every job to find them any more.
    doc.jobs = endBlocked(doc.jobs, this.db.now()).jobs;

    // Finished jobs beyond keep_finished leave the live set, as they leave jobs.json for the archive.
    const toArchive = new Set(jobsToArchive(doc.jobs, config.keep_finished).map((job) => job.id));
    const archivedIds = new Set(archived.map((job) => job.id));
    const changed: { old: string; doc: string }[] = [];
    const added: string[] = [];
    const revived: string[] = [];
    for (const job of doc.jobs) {
      const encoded = encodeJob(job);
      const old = before.get(job.id);
      if (old === undefined) (archivedIds.has(job.id) ? revived : added).push(encoded);
      else if (old !== encoded) changed.push({ old, doc: encoded });
    }
    const kept = new Set(doc.jobs.map((job) => job.id));
    const removed = [...before.entries()].filter(([id]) => !kept.has(id)).map(([, old]) => old);
    const lease = this.leaseSeconds;
    let writes = 0;
    if (changed.length > 0) {
      // Each row is written only if it is still what was read: the fence against any writer that got past the lock.
      const updated = await client.query(
        `UPDATE queuectl_jobs AS j
            SET doc = r.doc,
                claimed_by = CASE WHEN r.doc->>'state' = 'processing' THEN concat_ws('/', r.doc#>>'{owner,host}', r.doc#>>'{owner,pid}', r.doc#>>'{owner,started}') END,
                lease_until = CASE WHEN r.doc->>'state' <> 'processing' THEN NULL
                                   WHEN j.state = 'processing' AND j.doc->'owner' = r.doc->'owner' AND j.doc->'started_at' = r.doc->'started_at' THEN j.lease_until
                                   ELSE clock_timestamp() + make_interval(secs => $2) END
           FROM (SELECT e->'doc' AS doc, e->'old' AS old FROM jsonb_array_elements($1::jsonb) AS e) AS r
          WHERE j.id = r.doc->>'id' AND j.doc = r.old AND NOT j.archived`,
        [`[${changed.map((row) => `{"old":${row.old},"doc":${row.doc}}`).join(',')}]`, lease],
      );
      if (updated.rowCount !== changed.length) throw new Fenced(`${changed.length - (updated.rowCount ?? 0)} of ${changed.length} changed jobs were changed meanwhile`);
      writes += changed.length;
    }
    if (removed.length > 0) {
      const deleted = await client.query(`DELETE FROM queuectl_jobs AS j USING jsonb_array_elements($1::jsonb) AS r(old) WHERE j.id = r.old->>'id' AND j.doc = r.old AND NOT j.archived`, [`[${removed.join(',')}]`]);
      if (deleted.rowCount !== removed.length) throw new Fenced(`${removed.length - (deleted.rowCount ?? 0)} of ${removed.length} removed jobs were changed meanwhile`);
      writes += removed.length;
    }
    if (revived.length > 0) {
      await client.query(`UPDATE queuectl_jobs AS j SET doc = r.doc, archived = false FROM jsonb_array_elements($1::jsonb) AS r(doc) WHERE j.id = r.doc->>'id' AND j.archived`, [`[${revived.join(',')}]`]);
      writes += revived.length;
    }
    if (added.length > 0) {
      // A new job may take the id of an archived one (ids may be reused once a job is finished):
      // the archived job gives way, and the new one takes its place at the end of creation order.
      await client.query(
        `INSERT INTO queuectl_jobs (doc, claimed_by, lease_until)
         SELECT r.doc,
                CASE WHEN r.doc->>'state' = 'processing' THEN concat_ws('/', r.doc#>>'{owner,host}', r.doc#>>'{owner,pid}', r.doc#>>'{owner,started}') END,
                CASE WHEN r.doc->>'state' = 'processing' THEN clock_timestamp() + make_interval(secs => $2) END
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(doc, n) ORDER BY r.n
         ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, archived = false, seq = nextval(pg_get_serial_sequence('queuectl_jobs', 'seq')),
                claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
          WHERE queuectl_jobs.archived`,
        [`[${added.join(',')}]`, lease],
      ).then((inserted) => {
        if (inserted.rowCount !== added.length) throw new QueueError('conflict', 'a job with one of these ids already exists; choose another id');
      });
      writes += added.length;
    }
    if (toArchive.size > 0) {
      await client.query('UPDATE queuectl_jobs SET archived = true WHERE id = ANY($1)', [[...toArchive]]);
      writes += toArchive.size;
    }
    if (forgotten.length > 0) {
      await client.query('DELETE FROM queuectl_jobs WHERE archived AND id = ANY($1)', [forgotten.map((job) => job.id)]);
      writes += forgotten.length;
    }
    for (const key of ['queues', 'schedules'] as const) {
      const value = JSON.stringify(doc[key] ?? null);
      if (value === meta[key]) continue;
      if (doc[key] === undefined) await client.query('DELETE FROM queuectl_meta WHERE key = $1', [key]);
      else await client.query('INSERT INTO queuectl_meta (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
      if (key === 'queues') await this.writeQueues(client, doc.queues ?? {});
      writes++;
    }
    if (writes > 0) await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, this.token]);
    return result;
  }

  /**
   * The queue rows that claims read and lock: written (and so locked) only where a setting
   * changed, so that a claim in another queue never waits for `queue set` or `queue pause`.
   */
  private async writeQueues(client: PoolClient, queues: NonNullable<JobsDocument['queues']>): Promise<void> {
    const rows = Object.entries(queues).map(([name, settings]) => ({ name, parallel: settings.parallel, paused: settings.paused }));
    await client.query('DELETE FROM queuectl_queues WHERE name <> ALL($1::text[])', [rows.map((row) => row.name)]);
    await client.query(
      `INSERT INTO queuectl_queues (name, parallel, paused)
       SELECT r->>'name', (r->>'parallel')::integer, (r->>'paused')::boolean FROM jsonb_array_elements($1::jsonb) AS r
       ON CONFLICT (name) DO UPDATE SET parallel = EXCLUDED.parallel, paused = EXCLUDED.paused
        WHERE (queuectl_queues.parallel, queuectl_queues.paused) IS DISTINCT FROM (EXCLUDED.parallel, EXCLUDED.paused)`,
      [JSON.stringify(rows)],
    );
  }

  /** The archived jobs a transaction asked for (none of them live). */
  private async archivedJobs(client: PoolClient, wanted: TransactOptions['archive'], live: Set<string>): Promise<Job[]> {
    if (wanted === undefined) return [];
    if (wanted !== 'all' && wanted.every((id) => live.has(id))) return [];
    const result =
      wanted === 'all'
        ? await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs WHERE archived ORDER BY seq')
        : await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs WHERE archived AND id = ANY($1) ORDER BY seq', [[...wanted]]);
    return result.rows.map((row) => decodeJob(row.doc));
  }
}
