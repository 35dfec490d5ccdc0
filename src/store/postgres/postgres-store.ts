/**
 * The PostgreSQL store behind the seam, for supervisors on several hosts sharing one queue. Its
 * concerns live beside it: the client and the clock (database.ts), settings (settings.ts),
 * whole-queue transactions (transact.ts), the hot path's operations (enqueue.ts, turn.ts with
 * claims.ts and results.ts), supervisors and leases (registry.ts), waking (listen.ts,
 * notify.ts). This class joins them into one `Store`.
 */
import type { PoolClient } from 'pg';
import type { Config } from '../../lifecycle/config.ts';
import { findJob, type Job } from '../../lifecycle/job.ts';
import type { JobDefaults, JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { HOST } from '../../system/proc.ts';
import { ensureHome, projectDir, type Home } from '../home.ts';
import type { JobQuery } from '../reads.ts';
import type { Change, Enqueued, EnqueueOptions, Store, StoreOptions, SupervisorRecord, TransactOptions, Transaction, TurnOutcome, TurnRequest } from '../store.ts';
import { inTransaction } from './connect.ts';
import { Database, supervisorId } from './database.ts';
import { insertJobs } from './enqueue.ts';
import { decodeJob } from './jobs.ts';
import { leaseSettings, type LeaseSettings } from './lease.ts';
import { CHANGES_CHANNEL, listen } from './listen.ts';
import { Notifier } from './notify.ts';
import { Registry } from './registry.ts';
import { archiveFinished } from './results.ts';
import { Settings } from './settings.ts';
import { Transactions } from './transact.ts';
import { takePostgresTurn } from './turn.ts';
import { PostgresReads } from './reads.ts';

export { CHANGE_LOCK } from './transact.ts';
export { CHANGES_CHANNEL } from './listen.ts';

export class PostgresStore implements Store {
  readonly backend = 'postgres';
  readonly settingsLabel = 'database';
  readonly home: Home;
  readonly env: NodeJS.ProcessEnv;
  readonly lease: LeaseSettings;
  private readonly db: Database;
  private readonly reads = new PostgresReads((fn) => this.db.withClient(fn));
  private readonly settings: Settings;
  private readonly transactions: Transactions;
  private readonly registry: Registry;
  /** Names this process in change notifications, so that it can tell its own commits. */
  private readonly token = `${HOST}/${process.pid}/${Math.random().toString(36).slice(2)}`;
  private readonly listeners = new Set<(change: Change) => void>();
  private listening: { stop(): void } | null = null;
  private readonly notifier = new Notifier(
    (payloads) => this.db.withClient(async (client) => void (await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [CHANGES_CHANNEL, payloads]))),
    (queue) => `${this.token} ${queue}`,
  );
  /** When this process last archived finished rows from a turn: at most once a second. */
  private archivedAt = 0;
  /** Finished rows were written since the last archiving. */
  private archiveDue = false;

  constructor(url: string, home: Home, options: StoreOptions) {
    this.home = home;
    this.env = options.env;
    this.lease = leaseSettings(options.env);
    this.db = new Database(url, options.now);
    this.settings = new Settings(this.db, options.env);
    this.transactions = new Transactions(this.db, this.settings, options.env, this.lease.seconds, this.token);
    this.registry = new Registry(this.db, this.lease);
  }

  get where(): string {
    return this.db.where;
  }

  now(): Date {
    return this.db.now();
  }

  readConfig(): Promise<Config> {
    return this.settings.readConfig();
  }

  readConfigSources() {
    return this.settings.readConfigSources();
  }

  updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T> {
    return this.settings.updateConfig(fn);
  }

  jobDefaults(config: Config): JobDefaults {
    return { now: this.now(), max_retries: config.max_retries, cwd: projectDir(this.home) };
  }

  async readJobs(): Promise<JobsDocument> {
    return this.db.withClient((client) => this.transactions.snapshot(client));
  }

  async readAllJobs(): Promise<Job[]> {
    return this.db.withClient(async (client) => {
      const result = await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs ORDER BY archived DESC, seq');
      return result.rows.map((row) => decodeJob(row.doc));
    });
  }

  async lookupJobs(ids: readonly string[], options: { skipMissing?: boolean } = {}): Promise<Job[]> {
    return this.db.withClient(async (client) => {
      const result = await client.query<{ doc: unknown }>('SELECT doc FROM queuectl_jobs WHERE id = ANY($1)', [[...ids]]);
      const jobs = result.rows.map((row) => decodeJob(row.doc));
      const found = new Set(jobs.map((job) => job.id));
      const wanted = options.skipMissing ? ids.filter((id) => found.has(id)) : ids;
      return wanted.map((id) => findJob(jobs, id));
    });
  }

  countJobs = () => this.reads.countJobs();
  processingJobs = () => this.reads.processingJobs();
  nextJobs = (now: Date) => this.reads.nextJobs(now);
  dependencyWaits = (limit: number) => this.reads.dependencyWaits(limit);
  activity = (now: Date) => this.reads.activity(now);
  queueSettings = () => this.reads.queueSettings();
  pageJobs = (query: JobQuery, page: { offset: number; limit?: number }) => this.reads.pageJobs(query, page);
  countMatching = (query: JobQuery) => this.reads.countMatching(query);
  streamJobs = (query: JobQuery, limit: number | undefined, each: (jobs: readonly Job[]) => void) => this.reads.streamJobs(query, limit, each);

  transact<T>(fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions = {}): Promise<T> {
    return this.transactions.transact(fn, options);
  }

  async prepare(): Promise<void> {
    // Job logs stay on the host that ran the job, in its own store directory.
    ensureHome(this.home);
    await this.db.connect();
  }

  register(record: SupervisorRecord) {
    return this.registry.register(record);
  }

  supervisors() {
    return this.registry.supervisors();
  }

  requestStop(options: { force: boolean }) {
    return this.registry.requestStop(options);
  }

  lostJobs() {
    return this.registry.lostJobs();
  }

  lostClaims(jobs: readonly Job[]) {
    return this.registry.lostClaims(jobs);
  }

  /** Sends the notifications of a commit under way for these queues (debounced: see notify.ts). */
  private async tell(client: PoolClient, queues: Iterable<string>): Promise<void> {
    const payloads = this.notifier.now(queues);
    if (payloads.length > 0) await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [CHANGES_CHANNEL, payloads]);
  }

  async enqueue(jobs: readonly Job[], options?: EnqueueOptions): Promise<Enqueued> {
    if (jobs.length === 0) return { jobs: [], ended: [], newQueues: [] };
    return this.db.withClient((client) =>
      inTransaction(client, async () => {
        const enqueued = await insertJobs(client, jobs, this.now(), options);
        await this.tell(client, jobs.map((job) => job.queue));
        return enqueued;
      }),
    );
  }

  async turn(request: TurnRequest): Promise<TurnOutcome> {
    return this.db.withClient((client) =>
      inTransaction(client, async () => {
        // A turn comes after the results it records: its clock is not read as earlier than their ends
        // (this host's clock and the database's, as last measured, may differ by a millisecond).
        const ends = request.finished.map((item) => Date.parse(item.result.finished_at));
        const now = new Date(Math.max(this.db.now().getTime(), ...ends));
        const context = { client, now, env: this.env, leaseSeconds: this.lease.seconds, supervisorId: supervisorId(request.self) };
        const { written, ...outcome } = await takePostgresTurn(context, request);
        const claimed = new Set(outcome.claimed.map((job) => job.id));
        const told = written.filter((job) => !claimed.has(job.id));
        // Throttled, not dropped: finished rows that a throttled turn left live go with a later
        // turn (every poll takes one), new results or not.
        if (told.some((job) => job.state === 'completed' || job.state === 'cancelled')) this.archiveDue = true;
        if (this.archiveDue && Date.now() - this.archivedAt >= 1_000) {
          this.archivedAt = Date.now();
          this.archiveDue = false;
          await archiveFinished(client, outcome.config.keep_finished);
        }
        // Claims alone change nothing another supervisor could act on; results and firings do.
        await this.tell(client, told.map((job) => job.queue));
        return outcome;
      }),
    );
  }

  watch(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    this.listening ??= listen(this.db.url, this.token, (change) => {
      for (const each of this.listeners) each(change);
    });
    // The listening connection stays open until close(): commands that wait listen again and again.
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.notifier.stop();
    this.listening?.stop();
    this.listening = null;
    await this.db.close();
  }
}
