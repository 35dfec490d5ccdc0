/**
 * Every change, to jobs.json or config.json: take the lock, read the file fresh (or what this
 * process knows to be the file now), apply a synchronous function, commit, release. A commit
 * refused by the fence runs the whole transaction again on fresh data.
 */
import type { Low } from 'lowdb';
import { keysToWrite, SETTING_KEYS, type Config, type SettingKey } from '../../lifecycle/config.ts';
import { QueueError } from '../../lifecycle/error.ts';
import { encodeJobs } from '../../lifecycle/jobfile/encode.ts';
import { emptyJobs, type JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { failpoint } from '../../system/failpoint.ts';
import { homeError, makeHomeDir, removeEmptyHome, writeGitignore } from '../home.ts';
import type { Transaction, TransactOptions } from '../store.ts';
import { FencedAdapter, type Effects, type Source } from './adapter.ts';
import { dropReturned } from './archive.ts';
import { archiveAccess, settleArchive } from './archive-access.ts';
import { FenceError, sweepLeftovers } from './atomic.ts';
import { jobDefaults, type StoreContext } from './context.ts';
import type { JobsFile } from './jobs-file.ts';
import type { LockHandle } from './lock.ts';
import { configSource, keysInFile, readConfig } from './settings.ts';

/** How long a command waits for a busy lock before it gives up with exit status 75. */
const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** How many times a commit refused by the fence is retried on freshly read data. */
const FENCE_RETRIES = 5;

function lockTimeout(env: NodeJS.ProcessEnv): number {
  const value = Number(env.QUEUECTL_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_LOCK_TIMEOUT_MS;
}

// One transaction at a time per store within a process: proper-lockfile keys its locks by path.
const running = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
  const previous = running.get(key) ?? Promise.resolve();
  const next = previous.then(run, run);
  const settled = next.catch(() => undefined);
  running.set(key, settled);
  void settled.then(() => {
    if (running.get(key) === settled) running.delete(key);
  });
  return next;
}

/** Runs `body` under the store's lock, making the store directory first if need be (and removing it if nothing was written). */
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
  // The lock (proper-lockfile and what it loads) is loaded on first use: reads never need it.
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

/** One document read through lowdb under the lock, changed by `change`, and written back if its bytes changed. */
async function withDocument<T, R>(source: Source<T>, lock: LockHandle, effects: Effects, change: (db: Low<T>) => R, committed = () => {}): Promise<R> {
  const adapter = new FencedAdapter(source, lock, effects);
  try {
    // Loaded on first use, as the lock is: reads never need it.
    const { Low } = await import('lowdb');
    const db = new Low<T>(adapter, source.absent());
    await db.read();
    const result = change(db);
    await db.write();
    committed();
    return result;
  } finally {
    adapter.close();
  }
}

function jobsSource(jobsFile: JobsFile, file: string): Source<JobsDocument> {
  return {
    file,
    load: () => {
      const { doc, bytes, fence } = jobsFile.load();
      return { data: bytes === null ? null : doc, bytes, fence };
    },
    encode: encodeJobs,
    absent: emptyJobs,
    committed: (bytes, doc, inode) => jobsFile.committed(bytes, doc, inode),
  };
}

export type JobsChange<T> = (doc: JobsDocument, config: Config, tx: Transaction) => T;

/**
 * The one way to change jobs: `fn` gets the jobs as they are now, under the lock, and the
 * settings in force; whatever it leaves in `doc` is committed (if anything changed).
 */
export async function transactJobs<T>(ctx: StoreContext, jobsFile: JobsFile, fn: JobsChange<T>, options: TransactOptions = {}): Promise<T> {
  let returned = false;
  const result = await withLock(ctx, (lock, effects) => {
    const config = readConfig(ctx.home, ctx.env);
    const change = (db: Low<JobsDocument>) => {
      const defaults = jobDefaults(ctx, config);
      const tx = archiveAccess(ctx.home, defaults, db.data.jobs, options.archive);
      const result = fn(db.data, config, tx);
      returned = settleArchive(ctx.home, defaults, db.data, tx, config.keep_finished);
      failpoint('before-commit');
      return result;
    };
    return withDocument(jobsSource(jobsFile, ctx.home.jobs), lock, effects, change, () => failpoint('after-commit')).catch((error: unknown) => {
      // A function that failed may have changed a job in place, against the rule: nothing it saw is trusted again.
      jobsFile.forget();
      throw error;
    });
  });
  // Archived jobs made live again leave the archive after the commit that made them live: a
  // crash in between leaves a copy that readers ignore, never a job in neither file.
  if (returned) await transactJobs(ctx, jobsFile, (doc, config) => dropReturned(ctx.home, jobDefaults(ctx, config), doc.jobs));
  return result;
}

/** The one way to change config.json; `fn` gets the file's settings, without env overrides. */
export function updateConfig<T>(ctx: StoreContext, fn: (config: Config) => { config: Config; result: T }): Promise<T> {
  let keys: readonly SettingKey[] = SETTING_KEYS;
  return withLock(ctx, (lock, effects) =>
    withDocument(configSource(ctx.home, () => keys), lock, effects, (db) => {
      const { config, result } = fn(db.data);
      keys = keysToWrite(keysInFile(ctx.home), db.data, config);
      db.data = config;
      return result;
    }),
  );
}
