/**
 * The only code that touches jobs.json and config.json.
 *
 * Every change is `transact(fn)`: take the lock, read the file fresh, apply a synchronous
 * function, commit, release. Reads for display take no lock: files are only ever replaced by
 * rename, so every read sees a whole snapshot.
 */
import fs from 'node:fs';
import type { Adapter } from 'lowdb';
import { closeFence, currentIdentity, FenceError, identityOf, ioError, openFenced, replaceFile, sweepLeftovers, type Fence } from './atomic.ts';
import { applyEnv, configFromDocument, DEFAULT_CONFIG, keysToWrite, SETTING_KEYS, settingSources, type Config, type SettingKey, type SettingSource } from '../../lifecycle/config.ts';
import { invalid, QueueError } from '../../lifecycle/error.ts';
import { failpoint } from '../../system/failpoint.ts';
import type { Transaction, TransactOptions } from '../store.ts';
import { displayPath, ensureHome, homeError, makeHomeDir, projectDir, removeEmptyHome, writeGitignore, type Home } from '../home.ts';
import { archivedOnly, archiveFinished, archiveIdentity, countArchived, dropReturned, pruneArchive, readArchive, withArchive } from './archive.ts';
import { findJob, type Job } from '../../lifecycle/job.ts';
import { encodeJobs, FORMAT_VERSION, parseJobs, type JobDefaults, type JobsDocument } from '../../lifecycle/jobfile.ts';
import type { LockHandle } from './lock.ts';

export interface StoreContext {
  home: Home;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** Told once when a change has created the store (and kept it), to say where. */
  created?: (dir: string) => void;
}

/** How long a command waits for a busy lock before it gives up with exit status 75. */
const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

function lockTimeout(env: NodeJS.ProcessEnv): number {
  const value = Number(env.QUEUECTL_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_LOCK_TIMEOUT_MS;
}

/**
 * The last jobs.json this process wrote, with a descriptor that pins its inode. While jobs.json
 * is still that inode, with the same size and mtime, nobody has replaced or edited it, so a supervisor's next turn (or a
 * lock-free read) skips reading, parsing and validating it again. Jobs are never changed in
 * place (every transition makes a new object), so a shallow copy of the array is a safe copy.
 */
interface Known {
  fd: number;
  identity: string;
  bytes: Buffer;
  doc: JobsDocument;
}

const known = new Map<string, Known>();

const copyDoc = (doc: JobsDocument): JobsDocument => ({ ...doc, jobs: [...doc.jobs] });

function recall(file: string): Known | null {
  const entry = known.get(file);
  if (!entry) return null;
  if (currentIdentity(file) === entry.identity) return entry;
  forget(file);
  return null;
}

function forget(file: string): void {
  const entry = known.get(file);
  if (entry) fs.closeSync(entry.fd);
  known.delete(file);
}

function remember(file: string, bytes: Buffer, doc: JobsDocument): void {
  forget(file);
  try {
    const fd = fs.openSync(file, 'r');
    known.set(file, { fd, identity: identityOf(fs.fstatSync(fd, { bigint: true })), bytes, doc: copyDoc(doc) });
  } catch {
    // Not remembering only costs a read next time.
  }
}

/** A JSON document read under the lock and written back only if it changed. */
class FencedAdapter<T> implements Adapter<T> {
  private fence: Fence = { fd: null, identity: null };
  private original: Buffer | null = null;

  constructor(
    private readonly file: string,
    private readonly parse: (text: string) => T,
    private readonly serialize: (data: T) => Buffer,
    private readonly lock: LockHandle,
    /** What an absent file means; writing it back unchanged creates nothing. */
    private readonly absent: T,
    private readonly effects: Effects,
    /** Set for jobs.json: use and update the remembered copy. */
    private readonly memo?: { recall(): { bytes: Buffer; data: T; identity: string } | null; remember(bytes: Buffer, data: T): void },
  ) {}

  async read(): Promise<T | null> {
    const remembered = this.memo?.recall();
    if (remembered) {
      // The remembered descriptor is the fence: it stays open, and open, it pins the inode.
      this.fence = { fd: null, identity: remembered.identity };
      this.original = remembered.bytes;
      return remembered.data;
    }
    const { bytes, fence } = openFenced(this.file);
    this.fence = fence;
    this.original = bytes;
    return bytes === null ? null : this.parse(bytes.toString('utf8'));
  }

  async write(data: T): Promise<void> {
    const bytes = this.serialize(data);
    if (bytes.equals(this.original ?? this.serialize(this.absent))) return;
    await replaceFile(this.file, bytes, this.fence, () => this.lock.held());
    this.effects.wrote = true;
    this.original = bytes;
    this.memo?.remember(bytes, data);
  }

  close(): void {
    closeFence(this.fence);
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('read', file, error as NodeJS.ErrnoException);
  }
}

function parseConfigText(text: string, file: string): Config {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw invalid(`${displayPath(file)} is not valid JSON: ${(error as Error).message}; fix it by hand or restore it from git`);
  }
  return configFromDocument(doc, displayPath(file));
}

export function serializeConfig(config: Config, keys: readonly SettingKey[] = SETTING_KEYS): string {
  return `${JSON.stringify(Object.fromEntries(keys.map((key) => [key, config[key]])), null, 2)}\n`;
}

/** The settings in config.json, without environment overrides. */
function readFileConfig(home: Home): Config {
  const text = readText(home.config);
  return text === null ? DEFAULT_CONFIG : parseConfigText(text, home.config);
}

/** The settings in force: config.json, then QUEUECTL_* environment variables. */
export function readConfig(ctx: StoreContext): Config {
  return applyEnv(readFileConfig(ctx.home), ctx.env);
}

/** The settings in force as `readConfig` gives them, each with where its value comes from. */
export function readConfigSources(ctx: StoreContext): { config: Config; sources: Record<SettingKey, SettingSource> } {
  const text = readText(ctx.home.config);
  const config = applyEnv(text === null ? DEFAULT_CONFIG : parseConfigText(text, ctx.home.config), ctx.env);
  // parseConfigText has validated it: an object of known keys.
  const inFile = text === null ? [] : Object.keys(JSON.parse(text) as object);
  return { config, sources: settingSources(inFile, ctx.env) };
}

export function jobDefaults(ctx: StoreContext, config: Config): JobDefaults {
  return { now: ctx.now(), max_retries: config.max_retries, cwd: projectDir(ctx.home) };
}

function parseJobsText(ctx: StoreContext, config: Config) {
  return (text: string) => parseJobs(text, displayPath(ctx.home.jobs), jobDefaults(ctx, config));
}

const emptyJobs = (): JobsDocument => ({ version: FORMAT_VERSION, jobs: [] });

/** The named jobs, looked up in jobs.json and, only for those not there, in the archive. */
export function lookupJobs(ctx: StoreContext, ids: readonly string[], options: { skipMissing?: boolean } = {}): Job[] {
  const config = readConfig(ctx);
  const live = readJobs(ctx, config).jobs;
  const known = new Set(live.map((job) => job.id));
  const archived = ids.every((id) => known.has(id)) ? [] : readArchive(ctx.home, jobDefaults(ctx, config));
  if (options.skipMissing) {
    const found = new Set([...known, ...archived.map((job) => job.id)]);
    ids = ids.filter((id) => found.has(id));
  }
  return ids.map((id) => findJob(live, id, archived));
}

/** Whether jobs.json is still what this process last wrote: nobody else has changed it since. */
export function isOwnWrite(ctx: StoreContext): boolean {
  return recall(ctx.home.jobs) !== null;
}

/** A lock-free snapshot of jobs.json, validated. A missing file is an empty queue. */
export function readJobs(ctx: StoreContext, config = readConfig(ctx)): JobsDocument {
  const remembered = recall(ctx.home.jobs);
  if (remembered) return copyDoc(remembered.doc);
  const text = readText(ctx.home.jobs);
  return text === null ? emptyJobs() : parseJobsText(ctx, config)(text);
}

// One transaction at a time per store within a process: proper-lockfile keys its locks by path.
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(run, run);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** Makes the store, if missing, for a process that works in it for long (a supervisor). */
export function createStore(ctx: StoreContext): void {
  let created: string | undefined;
  try {
    created = ensureHome(ctx.home);
  } catch (error) {
    throw homeError(ctx.home.dir, error as NodeJS.ErrnoException, 'create');
  }
  if (created !== undefined) ctx.created?.(ctx.home.dir);
}

/** How many times a commit refused by the fence is retried on freshly read data. */
const FENCE_RETRIES = 5;

/** What a transaction did to the disk, so that one refused leaves no trace. */
interface Effects {
  wrote: boolean;
}

async function withLock<T>(ctx: StoreContext, body: (lock: LockHandle, effects: Effects) => Promise<T>): Promise<T> {
  return serialized(ctx.home.dir, async () => {
    let created: string | undefined;
    try {
      created = makeHomeDir(ctx.home);
    } catch (error) {
      throw homeError(ctx.home.dir, error as NodeJS.ErrnoException, 'create');
    }
    const effects: Effects = { wrote: false };
    try {
      return await lockedWithRetries(ctx, (lock) => body(lock, effects));
    } finally {
      if (effects.wrote) writeGitignore(ctx.home);
      if (created !== undefined && !effects.wrote) removeEmptyHome(ctx.home, created);
      else if (created !== undefined) ctx.created?.(ctx.home.dir);
    }
  });
}

/** Runs `body` under the lock; a commit refused by the fence runs it again on fresh data. */
async function lockedWithRetries<T>(ctx: StoreContext, body: (lock: LockHandle) => Promise<T>): Promise<T> {
  // The lock (proper-lockfile and what it loads) and lowdb are loaded on first use: reads never need them.
  const { acquireLock } = await import('./lock.ts');
  for (let attempt = 1; ; attempt++) {
    const lock = await acquireLock(ctx.home.jobs, ctx.home.lock, { timeoutMs: lockTimeout(ctx.env) });
    try {
      failpoint('in-lock');
      sweepLeftovers(ctx.home.dir, ['jobs.json', 'config.json', 'archive.jsonl']);
      return await body(lock);
    } catch (error) {
      if (!(error instanceof FenceError) || attempt >= FENCE_RETRIES) {
        if (error instanceof FenceError) throw new QueueError('busy', `the store kept changing under a lost lock: ${error.message}`);
        throw error;
      }
    } finally {
      await lock.release();
    }
  }
}

/**
 * The one way to change jobs: `fn` gets the jobs as they are now, under the lock, and the
 * settings in force; whatever it leaves in `doc` is committed (if anything changed).
 */
export async function transact<T>(ctx: StoreContext, fn: (doc: JobsDocument, config: Config, tx: Transaction) => T, options: TransactOptions = {}): Promise<T> {
  let returned = false;
  const result = await withLock(ctx, async (lock, effects) => {
    const config = readConfig(ctx);
    const file = ctx.home.jobs;
    const memo = {
      recall: () => {
        const entry = recall(file);
        return entry && { bytes: entry.bytes, data: copyDoc(entry.doc), identity: entry.identity };
      },
      remember: (bytes: Buffer, doc: JobsDocument) => remember(file, bytes, doc),
    };
    const adapter = new FencedAdapter(file, parseJobsText(ctx, config), encodeJobs, lock, emptyJobs(), effects, memo);
    try {
      const { Low } = await import('lowdb');
      const db = new Low<JobsDocument>(adapter, emptyJobs());
      await db.read();
      const defaults = jobDefaults(ctx, config);
      const tx = archiveAccess(ctx.home, defaults, db.data.jobs, options.archive);
      const result = fn(db.data, config, tx);
      // Archived jobs are deleted under the lock, just before jobs.json's totals are committed.
      if (tx.forgotten.length > 0) {
        const doomed = new Set(tx.forgotten.map(archiveIdentity));
        const pruned = pruneArchive(ctx.home, defaults, (jobs) => archivedOnly(db.data.jobs, jobs).filter((job) => doomed.has(archiveIdentity(job))));
        db.data.archived = countArchived(db.data.archived, pruned, -1);
      }
      const stillArchived = new Set(archivedOnly(db.data.jobs, tx.loaded));
      const madeLive = tx.loaded.filter((job) => !stillArchived.has(job));
      returned = madeLive.length > 0;
      if (returned) db.data.archived = countArchived(db.data.archived, madeLive, -1);
      archiveFinished(ctx.home, db.data, config.keep_finished);
      failpoint('before-commit');
      await db.write();
      failpoint('after-commit');
      return result;
    } finally {
      adapter.close();
    }
  });
  // Archived jobs made live again leave the archive after the commit that made them live: a
  // crash in between leaves a copy that readers ignore, never a job in neither file.
  if (returned) await transact(ctx, (doc, config) => dropReturned(ctx.home, jobDefaults(ctx, config), doc.jobs));
  return result;
}

/** The archived jobs a transaction asked for, read only when one of them is not live. */
function archiveAccess(home: Home, defaults: JobDefaults, live: readonly Job[], wanted: TransactOptions['archive']) {
  const forgotten: Job[] = [];
  let loaded: Job[] | null = null;
  const load = (): Job[] => {
    if (loaded) return loaded;
    if (wanted === undefined) return (loaded = []);
    const ids = wanted === 'all' ? null : new Set(wanted);
    const liveIds = new Set(live.map((job) => job.id));
    if (ids && [...ids].every((id) => liveIds.has(id))) return (loaded = []);
    const all = archivedOnly(live, readArchive(home, defaults));
    return (loaded = ids ? all.filter((job) => ids.has(job.id)) : all);
  };
  return {
    get archived() {
      return load();
    },
    get loaded() {
      return loaded ?? [];
    },
    forgotten,
    forget: (jobs: readonly Job[]) => void forgotten.push(...jobs),
  };
}

/** The one way to change config.json; `fn` gets the file's settings, without env overrides. */
export async function updateConfig<T>(ctx: StoreContext, fn: (config: Config) => { config: Config; result: T }): Promise<T> {
  return withLock(ctx, async (lock, effects) => {
    let keys: SettingKey[] = [];
    const adapter = new FencedAdapter(ctx.home.config, (text) => parseConfigText(text, ctx.home.config), (config) => Buffer.from(serializeConfig(config, keys)), lock, DEFAULT_CONFIG, effects);
    try {
      const { Low } = await import('lowdb');
      const db = new Low<Config>(adapter, DEFAULT_CONFIG);
      await db.read();
      const text = readText(ctx.home.config);
      const { config, result } = fn(db.data);
      keys = keysToWrite(text === null ? [] : Object.keys(JSON.parse(text) as object), db.data, config);
      db.data = config;
      await db.write();
      return result;
    } finally {
      adapter.close();
    }
  });
}
