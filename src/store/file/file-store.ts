/**
 * The JSON file store behind the seam: jobs.json and config.json under one lock (store.ts), PID
 * files for supervisors (registry.ts), signals for `worker stop`, and /proc for liveness. One
 * host only: every process that shares it must see the same files and the same processes.
 */
import fs from 'node:fs';
import type { Config } from '../../lifecycle/config.ts';
import type { Job } from '../../lifecycle/job.ts';
import type { JobsDocument } from '../../lifecycle/jobfile.ts';
import { HOST, isRunning } from '../../system/proc.ts';
import { ioError } from './atomic.ts';
import { ArchiveFollower, withArchive } from './archive.ts';
import type { Home } from '../home.ts';
import type { Change, EnqueueOptions, Phase, Registration, Store, SupervisorRecord, TransactOptions, Transaction, TurnRequest } from '../store.ts';
import { enqueueJobs, fileTurn, lostFileJobs } from './operations.ts';
import { listRegistered, liveSupervisors, registerSupervisor, removeStale, unregisterSupervisor } from './registry.ts';
import { createStore, isOwnWrite, jobDefaults, lookupJobs, readConfig, readConfigSources, readJobs, transact, updateConfig, type StoreContext } from './store.ts';

/** How long `requestStop --force` leaves between the first signal and the second. */
const SECOND_SIGNAL_MS = 200;

export class FileStore implements Store {
  readonly backend = 'file';
  readonly settingsLabel = 'config.json';

  private readonly archive: ArchiveFollower;

  constructor(private readonly ctx: StoreContext) {
    this.archive = new ArchiveFollower(ctx.home);
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

  async readConfig() {
    return readConfig(this.ctx);
  }

  async readConfigSources() {
    return readConfigSources(this.ctx);
  }

  updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T> {
    return updateConfig(this.ctx, fn);
  }

  async readJobs(): Promise<JobsDocument> {
    return readJobs(this.ctx);
  }

  async readAllJobs(): Promise<Job[]> {
    // A long-running reader (the dashboard) parses only what was appended to the archive since its last read.
    const config = readConfig(this.ctx);
    return withArchive(readJobs(this.ctx, config).jobs, this.archive.read(jobDefaults(this.ctx, config)));
  }

  async lookupJobs(ids: readonly string[], options?: { skipMissing?: boolean }): Promise<Job[]> {
    return lookupJobs(this.ctx, ids, options);
  }

  jobDefaults(config: Config) {
    return jobDefaults(this.ctx, config);
  }

  transact<T>(fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options?: TransactOptions): Promise<T> {
    return transact(this.ctx, fn, options);
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

  async prepare(): Promise<void> {
    createStore(this.ctx);
  }

  async register(record: SupervisorRecord): Promise<Registration> {
    const home = this.ctx.home;
    try {
      removeStale(home);
      registerSupervisor(home, record);
    } catch (error) {
      if (typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
      throw ioError('register a supervisor in', home.supervisors, error as NodeJS.ErrnoException);
    }
    let current = record;
    return {
      renewEveryMs: null,
      fenceMs: null,
      // The PID file says the phase too, so that `status` and `worker stop` can tell; stop
      // requests come as signals.
      renew: async (phase: Phase) => {
        if (current.phase !== phase) {
          current = { ...current, phase };
          registerSupervisor(home, current);
        }
        return { stop: null };
      },
      unregister: async () => unregisterSupervisor(home, record.pid),
    };
  }

  async supervisors(): Promise<SupervisorRecord[]> {
    return liveSupervisors(this.ctx.home);
  }

  /**
   * SIGTERM to each supervisor on this host that is still running (one already draining gets
   * none: a second signal would force it); with `force`, a second signal to all.
   */
  async requestStop({ force }: { force: boolean }) {
    const notes: string[] = [];
    const stale = removeStale(this.ctx.home);
    if (stale > 0) notes.push(`removed ${stale} stale PID file${stale === 1 ? '' : 's'}`);
    const records = listRegistered(this.ctx.home).flatMap(({ record }) => (record ? [record] : []));
    // PID files of another host (a store on a shared filesystem): its processes cannot be signalled from here.
    for (const record of records.filter((r) => r.host !== HOST)) notes.push(`supervisor ${record.pid} runs on ${record.host}; stop it there`);
    const live = records.filter((record) => record.host === HOST && isRunning(record));
    const first = live.filter((record) => (record.phase ?? 'running') === 'running');
    for (const record of first) signal(record);
    if (force) {
      if (first.length > 0) await new Promise((resolve) => setTimeout(resolve, SECOND_SIGNAL_MS));
      for (const record of live.filter((r) => r.phase !== 'forcing' && isRunning(r))) signal(record);
    }
    return { asked: live, notes };
  }

  async lostClaims(jobs: readonly Job[]): Promise<Set<string>> {
    return new Set(jobs.filter((job) => job.state === 'processing' && ownerGone(job)).map((job) => job.id));
  }

  watch(listener: (change: Change) => void): () => void {
    let watcher: fs.FSWatcher;
    try {
      // jobs.json is replaced by rename: the directory is watched, not the file.
      watcher = fs.watch(this.ctx.home.dir, (_event, file) => {
        if (file === 'jobs.json') listener({ own: isOwnWrite(this.ctx), stop: false });
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

function signal(record: SupervisorRecord): void {
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** On one host, /proc answers at once: a claim is lost when its supervisor's process is gone. */
function ownerGone(job: Job): boolean {
  if (job.owner === null) return true;
  return job.owner.host === HOST && !isRunning(job.owner);
}
