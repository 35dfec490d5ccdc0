/**
 * The cross-process lock: proper-lockfile's mkdir lock, with its stale-lock takeover serialized.
 *
 * Upstream, two processes that both find the lock stale can both remove it: the second removes
 * the fresh lock the first has just made, and both hold it (proper-lockfile issue #121). Here a
 * takeover happens only inside a second mkdir mutex and only after a fresh look at the lock's
 * mtime, so a lock made by a winner is never mistaken for the stale one.
 *
 * A holder that stalled past the stale limit has lost its lock before proper-lockfile's refresh
 * timer can tell it so. The lock directory's mtime tells at once: if it is no longer the one this
 * holder set, `held()` is false (no commit) and release leaves the successor's lock alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { ioError } from './atomic.ts';
import { QueueError } from '../../lifecycle/error.ts';

// Not node:timers/promises: one module less for every command that takes the lock.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A holder that stops refreshing its lock for this long is presumed dead. */
export const LOCK_STALE_MS = 5_000;
/** Refresh well inside the stale window, so a busy event loop does not lose the lock. */
const LOCK_UPDATE_MS = 1_000;
/** A takeover mutex is held for a stat and a rmdir; one this old was left by a killed process. */
const TAKEOVER_STALE_MS = 2_000;

/**
 * How far the lock directory's mtime may be from the one we gave it and still be ours: a
 * filesystem with whole-second mtimes drops the 5 ms that proper-lockfile's first probe adds.
 * A successor's lock is younger than ours by at least the stale limit.
 */
const MTIME_SLACK_MS = 10;

export interface LockHandle {
  /** Set when proper-lockfile's refresh (every second) finds the lock was taken from us. */
  readonly compromised: () => Error | null;
  /** Whether the lock is ours right now: a synchronous look, for just before a commit. */
  held(): boolean;
  release(): Promise<void>;
}

function isStale(path: string, staleMs: number): boolean {
  try {
    return fs.statSync(path).mtimeMs < Date.now() - staleMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function removeDir(path: string): void {
  try {
    fs.rmdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

const busy = (): NodeJS.ErrnoException => Object.assign(new Error('stale lock takeover in progress'), { code: 'ELOCKED' });

/** Removes `lockPath` only if it is still stale, and only one process at a time. */
export function takeOverStaleLock(lockPath: string, staleMs: number): NodeJS.ErrnoException | null {
  const mutex = `${lockPath}.takeover`;
  try {
    fs.mkdirSync(mutex);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return error as NodeJS.ErrnoException;
    if (isStale(mutex, TAKEOVER_STALE_MS)) removeDir(mutex);
    return busy();
  }
  try {
    if (isStale(lockPath, staleMs)) removeDir(lockPath);
    return null;
  } finally {
    removeDir(mutex);
  }
}

/**
 * Tries again while the lock is busy, until the timeout; it must exceed the stale limit, or a lock
 * left by a killed process reads as busy. Any other failure (a full disk, a read-only directory)
 * will not go away by waiting, so it is reported at once. (proper-lockfile's own retries retry
 * every error.)
 */
async function retryWhileBusy<T>(lockPath: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 2; ; pause = Math.min(pause * 1.3, 25)) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw ioError('lock', lockPath, error as NodeJS.ErrnoException);
      if (Date.now() >= deadline) {
        throw new QueueError(
          'busy',
          `the store is busy: another queuectl process has held ${lockPath} for over ${Math.round(timeoutMs / 1000)}s; try again, or remove that directory if no queuectl process is running`,
        );
      }
    }
    await sleep(pause * (0.5 + Math.random()));
  }
}

export interface LockOptions {
  /** Give up after this long and report the store as busy. */
  timeoutMs: number;
  staleMs?: number;
}

/**
 * A store directory made for a transaction that then wrote nothing is removed again; a process
 * that was waiting for that transaction's lock finds the directory gone: it makes it again and
 * waits on.
 */
async function lockStore(target: string, options: Parameters<typeof lockfile.lock>[1] & { lockfilePath: string }): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(target, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    fs.mkdirSync(path.dirname(options.lockfilePath), { recursive: true });
    throw Object.assign(error as Error, { code: 'ELOCKED' });
  }
}

/**
 * The mtimes we have given the lock directory: the last one set, and one being set. (lockFs is
 * new for every lock, so proper-lockfile's precision probe always sets the first through it.)
 */
class Mtimes {
  private readonly ours = new Set<number>();

  constructor(private readonly lockPath: string) {}

  /** Whether the lock directory's mtime is one we gave it: the lock is still ours. */
  owns(): boolean {
    let mtime: number;
    try {
      mtime = fs.statSync(this.lockPath).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    return [...this.ours].some((ours) => Math.abs(mtime - ours) < MTIME_SLACK_MS);
  }

  /** proper-lockfile's `utimes`, remembering the mtime it sets (and only the last that took). */
  utimes(path: fs.PathLike, atime: fs.TimeLike, mtime: Date, callback: (error: NodeJS.ErrnoException | null) => void): void {
    const ms = mtime.getTime();
    this.ours.add(ms);
    fs.utimes(path, atime, mtime, (error) => {
      if (error) this.ours.delete(ms);
      else for (const old of this.ours) if (old !== ms) this.ours.delete(old);
      callback(error);
    });
  }
}

/**
 * The fs that proper-lockfile is given for one lock. It removes the lock with `rmdir` in two
 * places: when it judges the lock stale (before it holds it), and when it releases it, even if a
 * stall let a successor take it over meanwhile (the update timer may not have noticed yet): both
 * look before they remove. The stale removal goes through takeOverStaleLock: serialized, re-checked.
 */
function guardedFs(mtimes: Mtimes, staleMs: number, held: () => boolean): typeof fs {
  // fs as the prototype, not spread: a spread reads every getter of fs (its streams, its promises
  // API) and loads their modules.
  return Object.assign(Object.create(fs) as typeof fs, {
    utimes: mtimes.utimes.bind(mtimes),
    rmdirSync(path: fs.PathLike) {
      // proper-lockfile's exit handler.
      if (mtimes.owns()) fs.rmdirSync(path);
    },
    rmdir(path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null) => void) {
      if (held()) {
        if (mtimes.owns()) return fs.rmdir(path, callback);
        return setImmediate(() => callback(null));
      }
      let error: NodeJS.ErrnoException | null;
      try {
        error = takeOverStaleLock(String(path), staleMs);
      } catch (thrown) {
        error = thrown as NodeJS.ErrnoException;
      }
      setImmediate(() => callback(error));
    },
  });
}

export async function acquireLock(target: string, lockPath: string, options: LockOptions): Promise<LockHandle> {
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  let held = false;
  let compromised: Error | null = null;
  const mtimes = new Mtimes(lockPath);
  const lockFs = guardedFs(mtimes, staleMs, () => held);
  const release = await retryWhileBusy(lockPath, options.timeoutMs, () =>
    lockStore(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: LOCK_UPDATE_MS,
      retries: 0,
      fs: lockFs,
      // Not proper-lockfile's default, which throws from a timer and crashes the process.
      onCompromised: (error) => {
        compromised = error;
      },
    }),
  );
  held = true;
  return {
    compromised: () => compromised,
    held: () => compromised === null && mtimes.owns(),
    async release() {
      if (compromised) return;
      await release().catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ERELEASED' && error.code !== 'ENOTACQUIRED') throw error;
      });
    },
  };
}
