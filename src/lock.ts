/**
 * The cross-process lock: proper-lockfile's mkdir lock, with its stale-lock takeover serialized.
 *
 * Upstream, two processes that both find the lock stale can both remove it: the second removes
 * the fresh lock the first has just made, and both hold it (proper-lockfile issue #121). Here a
 * takeover happens only inside a second mkdir mutex and only after a fresh look at the lock's
 * mtime, so a lock made by a winner is never mistaken for the stale one.
 */
import fs from 'node:fs';
import lockfile from 'proper-lockfile';
import { QueueError } from './error.ts';

/** A holder that stops refreshing its lock for this long is presumed dead. */
export const LOCK_STALE_MS = 5_000;
/** Refresh well inside the stale window, so a busy event loop does not lose the lock. */
const LOCK_UPDATE_MS = 1_000;
/** A takeover mutex is held for a stat and a rmdir; one this old was left by a killed process. */
const TAKEOVER_STALE_MS = 2_000;

export interface LockHandle {
  /** Set when the lock was taken from us (we stalled past `stale`): our commit must not land. */
  readonly compromised: () => Error | null;
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

export interface LockOptions {
  /** Give up after this long and report the store as busy. */
  timeoutMs: number;
  staleMs?: number;
}

export async function acquireLock(target: string, lockPath: string, options: LockOptions): Promise<LockHandle> {
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  let held = false;
  let compromised: Error | null = null;
  // proper-lockfile removes the lock with `rmdir` in two places: when it judges the lock stale
  // (before it holds it) and when it releases it (while it holds it). Only the first is rerouted.
  const lockFs = {
    ...fs,
    rmdir(path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null) => void) {
      if (held) return fs.rmdir(path, callback);
      let error: NodeJS.ErrnoException | null;
      try {
        error = takeOverStaleLock(String(path), staleMs);
      } catch (thrown) {
        error = thrown as NodeJS.ErrnoException;
      }
      setImmediate(() => callback(error));
    },
  };
  const retries = Math.max(1, Math.ceil(options.timeoutMs / 25));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: LOCK_UPDATE_MS,
      retries: { retries, factor: 1.3, minTimeout: 2, maxTimeout: 25, randomize: true, maxRetryTime: options.timeoutMs },
      fs: lockFs,
      onCompromised: (error) => {
        compromised = error;
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new QueueError(
        'busy',
        `the store is busy: another queuectl process has held ${lockPath} for over ${Math.round(options.timeoutMs / 1000)}s; try again, or remove that directory if no queuectl process is running`,
      );
    }
    throw error;
  }
  held = true;
  return {
    compromised: () => compromised,
    async release() {
      if (compromised) return;
      await release().catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ERELEASED' && error.code !== 'ENOTACQUIRED') throw error;
      });
    },
  };
}
