/**
 * The JSON file store behind the seam: jobs.json (jobs-file.ts) and config.json (settings.ts),
 * changed under one lock (transaction.ts), the archive beside them (archive.ts), PID files for
 * supervisors (supervisors.ts). One host only: every process that shares it must see the same
 * files and the same processes. Each method is a line or two over the module of its concern.
 */
import fs from 'node:fs';
import type { Config } from '../../lifecycle/config.ts';
import { findJob, type Job } from '../../lifecycle/job.ts';
import type { JobDefaults, JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { ensureHome, homeError, type Home } from '../home.ts';
import type { Change, EnqueueOptions, Registration, Store, SupervisorRecord, TransactOptions, TurnRequest } from '../store.ts';
import { enqueueJobs, fileTurn, lostFileJobs } from './operations.ts';
import { ArchiveFollower, readArchive, withArchive } from './archive.ts';
import { jobDefaults, type StoreContext } from './context.ts';
import { JobsFile } from './jobs-file.ts';
import { liveSupervisors } from './registry.ts';
import { readConfig, readConfigSources } from './settings.ts';
import { lostClaims, register, requestStop } from './supervisors.ts';
import { transactJobs, updateConfig, type JobsChange } from './transaction.ts';
import { FileReads } from './reads.ts';
import type { JobQuery } from '../reads.ts';

export type { StoreContext } from './context.ts';

export class FileStore implements Store {
  readonly backend = 'file';
  readonly settingsLabel = 'config.json';

  /** jobs.json, and what this process already knows of it. */
  readonly jobsFile: JobsFile;
  private readonly archive: ArchiveFollower;
  private readonly reads: FileReads;

  constructor(private readonly ctx: StoreContext) {
    this.jobsFile = new JobsFile(ctx.home, () => this.jobDefaults(readConfig(ctx.home, ctx.env)));
    this.archive = new ArchiveFollower(ctx.home);
    this.reads = new FileReads(ctx.home, { live: () => this.readJobs(), all: () => this.readAllJobs() });
  }

  get where(): string {
    return this.ctx.home.dir;
  }

  get home(): Home {
    return this.ctx.home;
  }

  get env(): NodeJS.ProcessEnv {
    return this.ctx.env;
  }

  now(): Date {
    return this.ctx.now();
  }

  async readConfig(): Promise<Config> {
    return readConfig(this.ctx.home, this.ctx.env);
  }

  async readConfigSources() {
    return readConfigSources(this.ctx.home, this.ctx.env);
  }

  updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T> {
    return updateConfig(this.ctx, fn);
  }

  async readJobs(): Promise<JobsDocument> {
    return this.jobsFile.read();
  }

  async readAllJobs(): Promise<Job[]> {
    const live = this.jobsFile.read().jobs;
    // A long-running reader (the dashboard) parses only what was appended to the archive since its last read.
    return withArchive(live, this.archive.read(this.jobDefaults(await this.readConfig())));
  }

  /** The named jobs, looked up in jobs.json and, only for those not there, in the archive. */
  async lookupJobs(ids: readonly string[], options: { skipMissing?: boolean } = {}): Promise<Job[]> {
    const live = this.jobsFile.read().jobs;
    const known = new Set(live.map((job) => job.id));
    const archived = ids.every((id) => known.has(id)) ? [] : readArchive(this.ctx.home, this.jobDefaults(await this.readConfig()));
    if (options.skipMissing) {
      const found = new Set([...known, ...archived.map((job) => job.id)]);
      ids = ids.filter((id) => found.has(id));
    }
    return ids.map((id) => findJob(live, id, archived));
  }

  jobDefaults(config: Config): JobDefaults {
    return jobDefaults(this.ctx, config);
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

  transact<T>(fn: JobsChange<T>, options?: TransactOptions): Promise<T> {
    return transactJobs(this.ctx, this.jobsFile, fn, options);
  }

  enqueue(jobs: readonly Job[], options?: EnqueueOptions) {
    return enqueueJobs(this, jobs, options);
  }

  turn(request: TurnRequest) {
    return fileTurn(this, request);
  }

  lostJobs() {
    return lostFileJobs(this);
  }

  /** Makes the store, if missing, for a process that works in it for long (a supervisor). */
  async prepare(): Promise<void> {
    let created: string | undefined;
    try {
      created = ensureHome(this.ctx.home);
    } catch (error) {
      throw homeError(this.ctx.home.dir, error as NodeJS.ErrnoException, 'create');
    }
    if (created !== undefined) this.ctx.created?.(this.ctx.home.dir);
  }

  async register(record: SupervisorRecord): Promise<Registration> {
    return register(this.ctx.home, record);
  }

  async supervisors(): Promise<SupervisorRecord[]> {
    return liveSupervisors(this.ctx.home);
  }

  requestStop(options: { force: boolean }) {
    return requestStop(this.ctx.home, options);
  }

  async lostClaims(jobs: readonly Job[]): Promise<Set<string>> {
    return lostClaims(jobs);
  }

  watch(listener: (change: Change) => void): () => void {
    let watcher: fs.FSWatcher;
    try {
      // jobs.json is replaced by rename: the directory is watched, not the file.
      watcher = fs.watch(this.ctx.home.dir, (_event, file) => {
        if (file === 'jobs.json') listener({ own: this.jobsFile.isOwnWrite(), stop: false });
      });
    } catch {
      // No store directory yet: the caller's slow poll still sees the first change.
      return () => undefined;
    }
    watcher.on('error', () => undefined);
    return () => watcher.close();
  }

  async close(): Promise<void> {}
}
