/**
 * The store seam: every command, the supervisor and the dashboard reach the queue through one
 * `Store`, chosen once at start-up by `openStore`. The JSON file under `.queuectl/` is the
 * default; `QUEUECTL_DATABASE_URL` selects PostgreSQL (`open.ts`), for supervisors on several hosts. Both
 * apply the same pure lifecycle functions. The hot paths are operations that cost what they
 * touch (`enqueue`, a supervisor's `turn`, `lostJobs`); whole-queue and admin changes are
 * `transact(fn)` with a synchronous `fn` over the live jobs as they are now.
 */
import type { Config, SettingKey, SettingSource } from '../lifecycle/config.ts';
import type { Claim, Event, Finished, Interrupted, Rank, SupervisorId } from '../lifecycle/dispatch.ts';
import type { Job } from '../lifecycle/job.ts';
import type { CronRules } from '../lifecycle/schedule.ts';
import type { QueueError } from '../lifecycle/error.ts';
import type { JobDefaults, JobsDocument } from '../lifecycle/jobfile/document.ts';
import type { ProcessIdentity } from '../system/proc.ts';
import type { Home } from './home.ts';
import type { StoreReads } from './reads.ts';

/** running: claims jobs; draining: after a first signal, waits for its running jobs; forcing: after a second, interrupts them. */
export const PHASES = ['running', 'draining', 'forcing'] as const;
export type Phase = (typeof PHASES)[number];

export interface SupervisorRecord extends ProcessIdentity {
  started_at: string;
  count: number;
  cwd: string;
  /** Rewritten when a signal changes it; PID files written before phases were recorded have none. */
  phase?: Phase;
  /** The last renewal of its lease (PostgreSQL only). */
  heartbeat_at?: string;
}

/** What a transaction may see and do beyond the live jobs. */
export interface Transaction {
  /**
   * Finished jobs moved out of the live set (see `keep_finished`), as many as the transaction
   * asked for with `archive`. Putting one back into `doc.jobs` makes it live again.
   */
  archived: readonly Job[];
  /** Deletes archived jobs for good (`clean`). */
  forget(jobs: readonly Job[]): void;
}

export interface TransactOptions {
  /** Which archived jobs `fn` needs to see: their ids, or all of them. */
  archive?: readonly string[] | 'all';
}

/** What `worker stop` asks of a supervisor on another host: to drain, or to interrupt its jobs. */
export type StopRequest = 'drain' | 'force';

/** What woke a watcher of the store. */
export interface Change {
  own: boolean;
  stop: boolean;
}

/** What a supervisor brings to one turn: its results since the last, and what it can take. */
export interface TurnRequest {
  self: SupervisorId;
  finished: readonly Finished[];
  interrupted: readonly Interrupted[];
  /** Claims handed back unstarted. */
  released: readonly Claim[];
  /** Waiting claims that have since been sent to this worker. */
  placed: readonly (Claim & { worker: number })[];
  /** Free workers, each to get one claim now; empty while draining. */
  workers: readonly number[];
  /** How many more jobs to claim to wait at the supervisor. */
  waiting: number;
  /** The jobs whose claims this supervisor holds (running or waiting): the outcome says where each stands. */
  holding: readonly string[];
  /** The cron rules, once loaded: a turn fires due schedules only with them. */
  cron: CronRules | null;
  /** Schedules known to be broken (name → `cron tz`): not due until a hand edit changes them. */
  broken: ReadonlyMap<string, string>;
}

export interface TurnOutcome {
  /** The jobs claimed, in start order; worker 0: to wait at the supervisor. */
  claimed: Job[];
  events: Event[];
  /** The settings in force, for the claimed jobs' runs. */
  config: Config;
  fired: Job[];
  broken: { name: string; error: string; spec: string }[];
  /** The held jobs as they are now, with their ranks; a job not here is gone from the store. */
  holding: Map<string, { job: Job; rank: Rank }>;
  /** The first job in start order that waits to start at another supervisor: nothing behind it starts here. */
  bar: Rank | null;
  /** When the next waiting job or schedule falls due (epoch ms), or null. */
  nextDue: number | null;
  /** A schedule is due, but the turn had no cron rules to fire it with. */
  firing: boolean;
}

export interface EnqueueOptions {
  /** The error for a job whose id is taken by a live job (the command names the line). */
  taken?: (job: Job, other: Job) => QueueError;
}

export interface Enqueued {
  /** The jobs as stored: those whose dependency has already ended are cancelled (`enqueueDependents`). */
  jobs: Job[];
  /** Those of them cancelled at once, their dependency named in `last_error`. */
  ended: Job[];
  /** Queues that no job and no setting named before: worth a word, since a typo makes one. */
  newQueues: string[];
}

/** A supervisor's entry in the store while it runs. */
export interface Registration {
  /** How often to call `renew` besides phase changes; null when liveness needs no renewals (one host, /proc). */
  readonly renewEveryMs: number | null;
  /** How long after a renewal began running jobs may go on without the next one; null: for ever. */
  readonly fenceMs: number | null;
  /**
   * Records the phase and, on PostgreSQL, renews the supervisor's heartbeat and the leases of
   * its claims. Resolves to whether someone asked it to stop (`worker stop` on any host).
   */
  renew(phase: Phase): Promise<{ stop: StopRequest | null }>;
  unregister(): Promise<void>;
}

export interface Store extends StoreReads {
  readonly backend: 'file' | 'postgres';
  /** Where the queue lives, for messages: a directory, or `database "q" at host:port`. */
  readonly where: string;
  /** Where stored settings live, as `config list` shows it: `config.json`, or `database`. */
  readonly settingsLabel: string;
  /** This host's directory: job logs, and the file store's own files. */
  readonly home: Home;
  readonly env: NodeJS.ProcessEnv;
  /** The store's clock: the database's on PostgreSQL, so that hosts' clocks never decide. */
  now(): Date;

  readConfig(): Promise<Config>;
  readConfigSources(): Promise<{ config: Config; sources: Record<SettingKey, SettingSource> }>;
  /** The one way to change the settings; `fn` gets the stored settings, without env overrides. */
  updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T>;

  /** A snapshot of the live jobs (archived ones are counted, not listed), without locking. */
  readJobs(): Promise<JobsDocument>;
  /** Every job, archived ones included: what `list`, `show`, `logs` and `wait` look through. */
  readAllJobs(): Promise<Job[]>;
  /** The named jobs, live or archived; a missing one is a not-found error unless skipped. */
  lookupJobs(ids: readonly string[], options?: { skipMissing?: boolean }): Promise<Job[]>;
  /** What a hand-added or imported job may leave out. */
  jobDefaults(config: Config): JobDefaults;
  /**
   * The one way to change jobs: `fn` gets the jobs as they are now, serialized with every other
   * change, and the settings in force; whatever it leaves in `doc` is committed.
   */
  transact<T>(fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options?: TransactOptions): Promise<T>;

  /**
   * Adds new jobs, all or none: a live job with the same id is a conflict; dependencies are
   * checked against the jobs they name (`enqueueDependents`), and only those are read.
   */
  enqueue(jobs: readonly Job[], options?: EnqueueOptions): Promise<Enqueued>;
  /**
   * One supervisor turn, in one commit: records the results (each fenced by its claim), fires
   * due schedules, ends the dependents of jobs that ended dead or cancelled, and claims the best
   * due jobs for the free workers in start order, within queue limits, pauses and dependencies.
   */
  turn(request: TurnRequest): Promise<TurnOutcome>;
  /** The processing jobs whose claim is lost (its supervisor is gone, or its lease ran out): what recovery takes back. */
  lostJobs(): Promise<Job[]>;

  /** Makes the store ready for a process that works in it for long (a supervisor). */
  prepare(): Promise<void>;
  register(record: SupervisorRecord): Promise<Registration>;
  /** The running supervisors, on every host the store can see. */
  supervisors(): Promise<SupervisorRecord[]>;
  /**
   * Asks every running supervisor to drain (`force`: to interrupt its jobs). Returns those asked,
   * and anything worth telling the user on the way (stale entries removed).
   */
  requestStop(options: { force: boolean }): Promise<{ asked: SupervisorRecord[]; notes: string[] }>;
  /** The ids of processing jobs whose claim is lost: its supervisor is gone or its lease ran out. */
  lostClaims(jobs: readonly Job[]): Promise<Set<string>>;
  /**
   * Calls `listener` when jobs may have changed (`own`: this process made the change) or when
   * `worker stop` has asked supervisors to stop (`stop`). Returns a stop function.
   */
  watch(listener: (change: Change) => void): () => void;
  close(): Promise<void>;
}

export interface StoreOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => Date;
  /** Told once when a change has created the file store, to say where. */
  created?: (dir: string) => void;
}
