/**
 * The PostgreSQL store behind the seam, for supervisors on several hosts sharing one queue.
 *
 * A change is the file store's transaction on rows: take one advisory lock (the file store's
 * lock), read the live jobs, apply the same synchronous `fn`, write back only the rows that
 * changed, each guarded by the document it replaces (the fence: a row changed under us fails the
 * transaction, which runs again on fresh rows). Claims, recoveries, queue limits and schedule
 * firings are decided by the pure functions of the lifecycle on that one consistent view.
 * Transactions are short: nothing waits on a job while one is open.
 *
 * Times come from the database: `now()` is the database's clock as last measured, and leases
 * are compared with the database's `now()` in SQL. Inside a change the clock is read with
 * `clock_timestamp()`, not `now()`: `now()` is when the transaction began, before it waited for
 * the change lock, and a claim written after a long wait would get a lease already partly spent.
 */
import type { Notification, Pool, PoolClient } from 'pg';
import { applyEnv, configFromDocument, DEFAULT_CONFIG, SETTING_KEYS, settingSources, type Config } from '../../lifecycle/config.ts';
import { QueueError } from '../../lifecycle/error.ts';
import { findJob, type Job } from '../../lifecycle/job.ts';
import { FORMAT_VERSION, type JobDefaults, type JobsDocument } from '../../lifecycle/jobfile.ts';
import { HOST, isRunning } from '../../system/proc.ts';
import { jobsToArchive } from '../../lifecycle/retention.ts';
import { ensureHome, projectDir, type Home } from '../home.ts';
import type { Change, EnqueueOptions, Phase, Registration, StopRequest, Store, StoreOptions, SupervisorRecord, TransactOptions, Transaction, TurnOutcome, TurnRequest } from '../store.ts';
import { endBlocked } from '../../lifecycle/workflow.ts';
import { insertJobs } from './enqueue.ts';
import { Notifier } from './notify.ts';
import { archiveFinished } from './results.ts';
import { takePostgresTurn } from './turn.ts';
import { connectionError, openPool, parseTarget, describeTarget, inTransaction } from './connect.ts';
import { decodeJob, encodeJob } from './jobs.ts';
import { leaseSettings, type LeaseSettings } from './lease.ts';
import { migrate } from './schema.ts';

/**
 * Every whole-queue transaction (`transact`, `updateConfig`) takes this transaction-scoped
 * advisory lock: those are serial among themselves. The operations (enqueue, turns) never take
 * it: against them a transaction's writes are guarded by the fence.
 */
export const CHANGE_LOCK = 0x71637478;
/** The channel of change notifications; the payload names the process that committed. */
export const CHANGES_CHANNEL = 'queuectl_changes';
/** The payload of the notification that asks supervisors to look at their stop requests now. */
const STOP_PAYLOAD = 'stop';
/** How many times a transaction refused by the fence runs again on fresh rows. */
const FENCE_RETRIES = 5;

class Fenced extends Error {}

/** A supervisor's id in queuectl_supervisors and in jobs' `claimed_by`. */
function supervisorId(identity: { host: string; pid: number; started: string }): string {
  return `${identity.host}/${identity.pid}/${identity.started}`;
}

interface SupervisorRow {
  host: string;
  pid: number;
  started: string;
  started_at: Date;
  heartbeat_at: Date;
  count: number;
  cwd: string;
  phase: Phase;
}

export class PostgresStore implements Store {
  readonly backend = 'postgres';
  readonly settingsLabel = 'database';
  readonly home: Home;
  readonly env: NodeJS.ProcessEnv;
  private readonly url: string;
  private pool: Promise<Pool> | null = null;
  /** The database's clock minus this host's, as last measured. */
  private offsetMs = 0;
  /** This host's clock (a test may inject one: QUEUECTL_TEST_CLOCK); the offset corrects it. */
  private readonly hostNow: () => Date;
  /** Names this process in change notifications, so that it can tell its own commits. */
  private readonly token = `${HOST}/${process.pid}/${Math.random().toString(36).slice(2)}`;
  private readonly listeners = new Set<(change: Change) => void>();
  private listening: { stop(): void } | null = null;
  readonly lease: LeaseSettings;
  private readonly notifier = new Notifier(
    (payloads) => this.withClient(async (client) => void (await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [CHANGES_CHANNEL, payloads]))),
    (queue) => `${this.token} ${queue}`,
  );
  /** When this process last archived finished rows from a turn: at most once a second. */
  private archivedAt = 0;

  constructor(url: string, home: Home, options: StoreOptions) {
    this.url = url;
    this.home = home;
    this.env = options.env;
    this.lease = leaseSettings(options.env);
    this.hostNow = options.now;
  }

  get where(): string {
    return describeTarget(parseTarget(this.url));
  }

  now(): Date {
    return new Date(this.hostNow().getTime() + this.offsetMs);
  }

  /** The pool, opened and the schema migrated on first use. */
  private connect(): Promise<Pool> {
    this.pool ??= (async () => {
      const pool = await openPool(this.url);
      const client = await pool.connect();
      try {
        await migrate(client);
        await this.measureClock(client);
      } finally {
        client.release();
      }
      return pool;
    })();
    this.pool.catch(() => (this.pool = null));
    return this.pool;
  }

  private async measureClock(client: PoolClient): Promise<Date> {
    const before = Date.now();
    const result = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    const after = Date.now();
    const now = result.rows[0]!.now;
    this.offsetMs = now.getTime() - (before + after) / 2;
    return now;
  }

  /** Runs `fn` on a pooled connection; a lost connection is an I/O error naming the server. */
  private async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.connect();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw connectionError(error, parseTarget(this.url));
    }
    // The driver reports a connection lost mid-query (a server restart) as an 'error' event on
    // the client as well as by failing the query: without a listener the event would end the process.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken: unknown = undefined;
    try {
      return await fn(client);
    } catch (error) {
      broken = error;
      throw connectionError(error, parseTarget(this.url));
    } finally {
      client.off('error', ignore);
      // A connection that failed is not given to the next transaction: the pool opens a new one.
      client.release(broken instanceof Error && !(broken instanceof QueueError) && !(broken instanceof Fenced) ? broken : undefined);
    }
  }

  private async storedConfig(client: PoolClient): Promise<{ config: Config; keys: string[] }> {
    const result = await client.query<{ key: string; value: unknown }>('SELECT key, value FROM queuectl_config ORDER BY key');
    const doc = Object.fromEntries(result.rows.map((row) => [row.key, row.value]));
    return { config: configFromDocument(doc, 'the queuectl_config table'), keys: Object.keys(doc) };
  }

  async readConfig(): Promise<Config> {
    return this.withClient(async (client) => applyEnv((await this.storedConfig(client)).config, this.env));
  }

  async readConfigSources() {
    return this.withClient(async (client) => {
      const { config, keys } = await this.storedConfig(client);
      return { config: applyEnv(config, this.env), sources: settingSources(keys, this.env) };
    });
  }

  async updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T> {
    return this.withClient((client) =>
      inTransaction(client, async () => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOCK]);
        const { config: before } = await this.storedConfig(client);
        const { config, result } = fn(before);
        for (const key of SETTING_KEYS) {
          if (JSON.stringify(config[key]) === JSON.stringify(before[key]) && JSON.stringify(config[key]) === JSON.stringify(DEFAULT_CONFIG[key])) continue;
          await client.query('INSERT INTO queuectl_config (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, JSON.stringify(config[key])]);
        }
        return result;
      }),
    );
  }

  jobDefaults(config: Config): JobDefaults {
    return { now: this.now(), max_retries: config.max_retries, cwd: projectDir(this.home) };
  }

  /** The live jobs, the queue settings and schedules, and the archived totals, in one statement (one snapshot). */
  private async snapshot(client: PoolClient): Promise<JobsDocument> {
    const result = await client.query<{ jobs: unknown[]; queues: JobsDocument['queues'] | null; schedules: JobsDocument['schedules'] | null; archived: Record<string, number> | null; now: Date }>(`
      SELECT (SELECT coalesce(jsonb_agg(doc ORDER BY seq), '[]'::jsonb) FROM queuectl_jobs WHERE NOT archived) AS jobs,
             (SELECT jsonb_object_agg(name, jsonb_build_object('parallel', parallel, 'paused', paused) ORDER BY name) FROM queuectl_queues) AS queues,
             (SELECT value FROM queuectl_meta WHERE key = 'schedules') AS schedules,
             (SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM queuectl_jobs WHERE archived GROUP BY state) AS c) AS archived,
             clock_timestamp() AS now`);
    const row = result.rows[0]!;
    this.offsetMs = row.now.getTime() - Date.now();
    const doc: JobsDocument = { version: FORMAT_VERSION, jobs: row.jobs.map(decodeJob) };
    if (row.archived) doc.archived = { completed: Number(row.archived.completed ?? 0), cancelled: Number(row.archived.cancelled ?? 0) };
    if (row.queues) doc.queues = row.queues;
    if (row.schedules) doc.schedules = row.schedules;
    return doc;
  }

  async readJobs(): Promise<JobsDocument> {
    return this.withClient((client) => this.snapshot(client));
  }

  async readAllJobs(): Promise<Job[]> {
    return this.withClient(async (client) => {
      const result = await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs ORDER BY archived DESC, seq');
      return result.rows.map((row) => decodeJob(row.doc));
    });
  }

  async lookupJobs(ids: readonly string[], options: { skipMissing?: boolean } = {}): Promise<Job[]> {
    return this.withClient(async (client) => {
      const result = await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs WHERE id = ANY($1)', [[...ids]]);
      const jobs = result.rows.map((row) => decodeJob(row.doc));
      const found = new Set(jobs.map((job) => job.id));
      const wanted = options.skipMissing ? ids.filter((id) => found.has(id)) : ids;
      return wanted.map((id) => findJob(jobs, id));
    });
  }

  async transact<T>(fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withClient((client) => inTransaction(client, () => this.change(client, fn, options)));
      } catch (error) {
        // A deadlock with a concurrent operation is the fence's case too: nothing was written.
        if (!(error instanceof Fenced) && (error as { code?: string })?.code !== '40P01') throw error;
        if (attempt >= FENCE_RETRIES) throw new QueueError('busy', `jobs kept changing under this transaction: ${(error as Error).message}`);
      }
    }
  }

  private async change<T>(client: PoolClient, fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions): Promise<T> {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOCK]);
    const config = applyEnv((await this.storedConfig(client)).config, this.env);
    const doc = await this.snapshot(client);
    const before = new Map(doc.jobs.map((job) => [job.id, encodeJob(job)]));
    const meta = { queues: JSON.stringify(doc.queues ?? null), schedules: JSON.stringify(doc.schedules ?? null) };
    const archived = await this.archivedJobs(client, options.archive, new Set(before.keys()));
    const forgotten: Job[] = [];
    const result = fn(doc, config, { archived, forget: (jobs) => void forgotten.push(...jobs) });
    // A job this change ended dead or cancelled ends its waiting dependents in the same commit:
    // no supervisor's turn reads every job to find them any more.
    doc.jobs = endBlocked(doc.jobs, this.now()).jobs;

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
    const lease = this.lease.seconds;
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

  async prepare(): Promise<void> {
    // Job logs stay on the host that ran the job, in its own store directory.
    ensureHome(this.home);
    await this.connect();
  }

  async register(record: SupervisorRecord): Promise<Registration> {
    const id = supervisorId(record);
    const upsert = async (client: PoolClient, phase: Phase) => {
      // Rows of supervisors whose lease ran out long ago are cleared by whoever registers next.
      await client.query(`DELETE FROM queuectl_supervisors WHERE lease_until < now() - interval '1 hour'`);
      await client.query(
        `INSERT INTO queuectl_supervisors (id, host, pid, started, count, cwd, phase, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
         ON CONFLICT (id) DO UPDATE SET phase = EXCLUDED.phase, heartbeat_at = now(), lease_until = EXCLUDED.lease_until`,
        [id, record.host, record.pid, record.started, record.count, record.cwd, phase, this.lease.seconds],
      );
    };
    await this.withClient((client) => upsert(client, record.phase ?? 'running'));
    let gone = false;
    let renewing: Promise<unknown> = Promise.resolve();
    return {
      renewEveryMs: this.lease.renewMs,
      fenceMs: this.lease.fenceMs,
      renew: (phase: Phase) => {
        if (gone) return Promise.resolve({ stop: null });
        const renewal = this.withClient(async (client) => {
          const result = await client.query<{ stop_requested: boolean; stop_force: boolean; now: Date }>(
            `UPDATE queuectl_supervisors SET phase = $2, heartbeat_at = now(), lease_until = now() + make_interval(secs => $3)
              WHERE id = $1 RETURNING stop_requested, stop_force, now() AS now`,
            [id, phase, this.lease.seconds],
          );
          // A row cleared by someone else is written again; one this supervisor removed is not.
          if (result.rowCount === 0 && !gone) await upsert(client, phase);
          await client.query(`UPDATE queuectl_jobs SET lease_until = now() + make_interval(secs => $2) WHERE claimed_by = $1 AND state = 'processing'`, [id, this.lease.seconds]);
          const row = result.rows[0];
          if (row) this.offsetMs = row.now.getTime() - Date.now();
          const stop: StopRequest | null = row?.stop_force ? 'force' : row?.stop_requested ? 'drain' : null;
          return { stop };
        });
        renewing = renewal.catch(() => undefined);
        return renewal;
      },
      unregister: async () => {
        gone = true;
        // A renewal under way would write the row again after it is deleted.
        await renewing;
        await this.withClient(async (client) => void (await client.query('DELETE FROM queuectl_supervisors WHERE id = $1', [id])));
      },
    };
  }

  async supervisors(): Promise<SupervisorRecord[]> {
    return this.withClient(async (client) => {
      const result = await client.query<SupervisorRow>(`SELECT host, pid, started, started_at, heartbeat_at, count, cwd, phase FROM queuectl_supervisors WHERE lease_until > now() ORDER BY started_at`);
      return result.rows.map(recordOf).filter((record) => record.host !== HOST || isRunning(record));
    });
  }

  /**
   * Flags every supervisor's row, those whose lease has run out included: one cut off from the
   * database reads its request when it reaches it again, and stops then. Only those whose lease
   * is live are waited for.
   */
  async requestStop({ force }: { force: boolean }) {
    return this.withClient(async (client) => {
      const result = await client.query<SupervisorRow & { live: boolean; silent_s: number }>(
        `UPDATE queuectl_supervisors SET stop_requested = true, stop_force = stop_force OR $1
          RETURNING host, pid, started, started_at, heartbeat_at, count, cwd, phase,
                    lease_until > now() AS live, extract(epoch FROM now() - heartbeat_at)::int AS silent_s`,
        [force],
      );
      await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, STOP_PAYLOAD]);
      const present = result.rows.filter((row) => row.host !== HOST || isRunning(recordOf(row)));
      // One silent for longer is most likely gone for good (a host that was shut down): not worth a word.
      const notes = present
        .filter((row) => !row.live && row.silent_s < 600)
        .map((row) => `supervisor ${row.pid} on ${row.host} has not renewed its lease for ${row.silent_s}s (cut off from the database?); it stops when it reaches the database again`);
      return { asked: present.filter((row) => row.live).map(recordOf), notes };
    });
  }

  /** Sends the notifications of a commit under way for these queues (debounced: see notify.ts). */
  private async tell(client: PoolClient, queues: Iterable<string>): Promise<void> {
    const payloads = this.notifier.now(queues);
    if (payloads.length > 0) await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [CHANGES_CHANNEL, payloads]);
  }

  async enqueue(jobs: readonly Job[], options?: EnqueueOptions): Promise<void> {
    if (jobs.length === 0) return;
    await this.withClient((client) =>
      inTransaction(client, async () => {
        await insertJobs(client, jobs, options);
        await this.tell(client, jobs.map((job) => job.queue));
      }),
    );
  }

  async turn(request: TurnRequest): Promise<TurnOutcome> {
    return this.withClient((client) =>
      inTransaction(client, async () => {
        // A turn comes after the results it records: its clock is not read as earlier than their ends
        // (this host's clock and the database's, as last measured, may differ by a millisecond).
        const ends = request.finished.map((item) => Date.parse(item.result.finished_at));
        const now = new Date(Math.max(this.now().getTime(), ...ends));
        const context = { client, now, env: this.env, leaseSeconds: this.lease.seconds, supervisorId: supervisorId(request.self) };
        const { written, ...outcome } = await takePostgresTurn(context, request);
        const claimed = new Set(outcome.claimed.map((job) => job.id));
        const told = written.filter((job) => !claimed.has(job.id));
        if (told.some((job) => job.state === 'completed' || job.state === 'cancelled') && Date.now() - this.archivedAt >= 1_000) {
          this.archivedAt = Date.now();
          await archiveFinished(client, outcome.config.keep_finished);
        }
        // Claims alone change nothing another supervisor could act on; results and firings do.
        await this.tell(client, told.map((job) => job.queue));
        return outcome;
      }),
    );
  }

  async lostJobs(): Promise<Job[]> {
    const rows = await this.withClient(async (client) => {
      const result = await client.query<{ doc: unknown; expired: boolean }>(
        `SELECT doc, (lease_until IS NULL OR lease_until < now()) AS expired FROM queuectl_jobs
          WHERE state = 'processing' AND NOT archived AND (lease_until IS NULL OR lease_until < now() OR claimed_by LIKE $1)`,
        [`${HOST.replace(/[\\%_]/g, '\\$&')}/%`],
      );
      return result.rows.map((row) => ({ job: decodeJob(row.doc), expired: row.expired }));
    });
    // On this host /proc answers at once; elsewhere the lease decides.
    return rows.filter(({ job, expired }) => expired || (job.owner?.host === HOST && !isRunning(job.owner))).map(({ job }) => job);
  }

  async lostClaims(jobs: readonly Job[]): Promise<Set<string>> {
    const expired = await this.withClient(async (client) => {
      const result = await client.query<{ id: string }>(`SELECT id FROM queuectl_jobs WHERE state = 'processing' AND NOT archived AND (lease_until IS NULL OR lease_until < now())`);
      return new Set(result.rows.map((row) => row.id));
    });
    // On this host /proc answers at once; elsewhere the lease decides.
    const local = jobs.filter((job) => job.state === 'processing' && job.owner?.host === HOST && !isRunning(job.owner));
    return new Set([...expired, ...local.map((job) => job.id)].filter((id) => jobs.some((job) => job.id === id && job.state === 'processing')));
  }

  watch(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    this.listening ??= this.listen();
    // The listening connection stays open until close(): commands that wait listen again and again.
    return () => void this.listeners.delete(listener);
  }

  /**
   * A dedicated connection that LISTENs for changes. When it drops it reconnects (after a
   * growing pause) and then tells every listener once, since changes may have been missed.
   */
  private listen(): { stop(): void } {
    let stopped = false;
    let client: import('pg').Client | null = null;
    let timer: NodeJS.Timeout | null = null;
    let pause = 100;
    const tell = (change: Change) => {
      for (const listener of this.listeners) listener(change);
    };
    // One reconnection at a time: a failed connection both ends and fails its connect.
    const reopen = () => {
      if (stopped || timer) return;
      timer = setTimeout(() => {
        timer = null;
        void open(true);
      }, pause);
      pause = Math.min(pause * 2, 5_000);
    };
    const open = async (missed: boolean) => {
      const { Client } = await import('pg');
      const next = new Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, keepAlive: true, application_name: `queuectl listen ${process.pid}` });
      client = next;
      next.on('error', () => undefined);
      next.on('notification', (message: Notification) => tell({ own: message.payload === this.token || message.payload?.startsWith(`${this.token} `) === true, stop: message.payload === STOP_PAYLOAD }));
      next.on('end', () => {
        if (client !== next) return;
        client = null;
        reopen();
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${CHANGES_CHANNEL}`);
      } catch {
        if (client === next) client = null;
        void next.end().catch(() => undefined);
        return reopen();
      }
      if (stopped || client !== next) return void next.end().catch(() => undefined);
      pause = 100;
      if (missed) tell({ own: false, stop: true });
    };
    void open(false);
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        const last = client;
        client = null;
        void last?.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.notifier.stop();
    this.listening?.stop();
    this.listening = null;
    const pool = this.pool;
    this.pool = null;
    if (pool) await (await pool.catch(() => null))?.end().catch(() => undefined);
  }
}

function recordOf(row: SupervisorRow): SupervisorRecord {
  return {
    host: row.host,
    pid: row.pid,
    started: row.started,
    started_at: row.started_at.toISOString(),
    heartbeat_at: row.heartbeat_at.toISOString(),
    count: row.count,
    cwd: row.cwd,
    phase: row.phase,
  };
}
