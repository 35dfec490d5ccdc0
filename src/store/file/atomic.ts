/**
 * Replacing a store file so that a crash, a full disk or a lost lock never leaves it corrupt.
 *
 * write-file-atomic writes and fsyncs a temp file and renames it, but it issues one `fs.write`
 * without checking the byte count (on a full disk it renames a truncated file into place and
 * reports success), never fsyncs the directory, and leaves its temp file behind when killed.
 * So it writes a staging file next to the target; the staging file's size is checked, the
 * fence is checked, and only then does our own rename put it in place, followed by a directory
 * fsync. Leftover staging and temp files are swept under the lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { QueueError } from '../../lifecycle/error.ts';
import { displayPath } from '../home.ts';
import { failpoint } from '../../system/failpoint.ts';

/** What the target looked like when it was read: the commit lands only if it still does. */
export interface Fence {
  /** An open descriptor pins the inode, so a newer file can never reuse its number. */
  fd: number | null;
  /**
   * Inode, size, mtime and ctime in nanoseconds: a replace changes the first, an edit in place
   * the others (ctime too, which no tool can set back).
   */
  identity: string | null;
}

/**
 * Opens and reads `file`, keeping the descriptor as the fence. `settled` says the file did not
 * change while it was read (an edit in place during the read gives a torn snapshot). When the
 * file holds exactly `expected`, those are the bytes returned (`same`): compared piece by piece,
 * so that a large file known to this process costs no new buffer, and no garbage collection of
 * a heap full of jobs to reclaim it.
 */
export function openFenced(file: string, expected: Buffer | null = null): { bytes: Buffer | null; fence: Fence; settled: boolean; same: boolean } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: null, fence: { fd: null, identity: null }, settled: true, same: false };
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd, { bigint: true });
    const identity = identityOf(stat);
    const same = expected !== null && stat.size === BigInt(expected.length) && holds(fd, expected);
    const bytes = same ? expected : fs.readFileSync(fd);
    return { bytes, fence: { fd, identity }, settled: identityOf(fs.fstatSync(fd, { bigint: true })) === identity, same };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

const piece = Buffer.allocUnsafe(1 << 20);

/** Whether the file behind `fd` holds `expected` (read at explicit positions: the descriptor's offset stays at 0). */
function holds(fd: number, expected: Buffer): boolean {
  for (let at = 0; at < expected.length; ) {
    const count = fs.readSync(fd, piece, 0, Math.min(piece.length, expected.length - at), at);
    if (count === 0 || piece.compare(expected, at, at + count, 0, count) !== 0) return false;
    at += count;
  }
  return true;
}

export function closeFence(fence: Fence): void {
  if (fence.fd !== null) fs.closeSync(fence.fd);
  fence.fd = null;
}

export function identityOf(stat: fs.BigIntStats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

/** The identity of `file` now, or null if there is none. */
export function currentIdentity(file: string): string | null {
  try {
    return identityOf(fs.statSync(file, { bigint: true }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export function ioError(action: string, file: string, error: NodeJS.ErrnoException): QueueError {
  const hint =
    error.code === 'ENOSPC' ? 'the disk is full; free some space and try again'
    : error.code === 'EACCES' || error.code === 'EPERM' || error.code === 'EROFS' ? 'check the permissions of the store directory'
    : error.message;
  return new QueueError('io-error', `could not ${action} ${displayPath(file)}: ${error.code ?? 'error'}: ${hint}; nothing was changed`);
}

export class FenceError extends Error {}

/**
 * The mode a rewrite gives `file`: the one it has, so that a store deliberately shared (widened by
 * hand) stays shared; else private, since commands and per-job environments can hold secrets.
 */
function modeFor(file: string): number {
  try {
    return fs.statSync(file).mode & 0o777;
  } catch {
    return PRIVATE_FILE;
  }
}

export const PRIVATE_FILE = 0o600;

/** The pid and 32 random bits (not node:crypto: loading it costs every command start-up time). */
function stagingName(file: string): string {
  return `${file}.next.${process.pid}.${Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0')}`;
}

/**
 * Replaces `file` with `bytes`, provided it is still the file the fence saw and `stillHeld()`
 * says the lock is still ours. Throws FenceError otherwise, leaving `file` untouched.
 */
export async function replaceFile(file: string, bytes: Buffer, fence: Fence, stillHeld: () => boolean): Promise<{ inode: bigint }> {
  // A name of its own: a writer that lost its lock must never rename, or delete, what its
  // successor staged under the same name.
  const staging = stagingName(file);
  let inode: bigint;
  try {
    // Loaded on first write: commands that only read start faster without it.
    const { default: writeFileAtomic } = await import('write-file-atomic');
    await writeFileAtomic(staging, bytes, { fsync: true, mode: modeFor(file) });
    const staged = fs.statSync(staging, { bigint: true });
    inode = staged.ino;
    const written = Number(staged.size);
    if (written !== bytes.length) {
      throw Object.assign(new Error(`short write: ${written} of ${bytes.length} bytes`), { code: 'ENOSPC' });
    }
  } catch (error) {
    fs.rmSync(staging, { force: true });
    // Our staging files vanished from a directory that is still there: only a writer that took
    // the lock sweeps them, so the lock is not ours (stalled past the stale limit, or its
    // directory deleted from outside and taken at once). Not the disk's fault: the commit is
    // retried under a new lock.
    const swept = (error as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync(path.dirname(file));
    if (swept || !stillHeld()) throw new FenceError(`${file}: staging failed under a lost lock (${(error as Error).message})`);
    // Only a system error is the disk's fault; anything else is a bug and keeps its stack.
    if (typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
    throw ioError('write', file, error as NodeJS.ErrnoException);
  }
  failpoint('before-rename');
  if (!stillHeld() || currentIdentity(file) !== fence.identity) {
    fs.rmSync(staging, { force: true });
    throw new FenceError(`${file} changed under a lost lock`);
  }
  try {
    fs.renameSync(staging, file);
  } catch (error) {
    fs.rmSync(staging, { force: true });
    // Swept by a successor that took the lock while we stalled: our commit must not land anyway.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FenceError(`${file}: staged commit removed under a lost lock`);
    throw ioError('replace', file, error as NodeJS.ErrnoException);
  }
  failpoint('after-rename');
  await syncDirectoryAsync(path.dirname(file));
  return { inode };
}

/**
 * The synchronous replace, for the archive, rewritten only by `clean` under the lock: a staging
 * file written in full (writeFileSync loops until every byte is written or throws), fsynced,
 * renamed into place.
 */
export function replaceFileSync(file: string, text: string): void {
  const staging = stagingName(file);
  try {
    const fd = fs.openSync(staging, 'w', PRIVATE_FILE);
    try {
      fs.fchmodSync(fd, modeFor(file));
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(staging, file);
  } catch (error) {
    fs.rmSync(staging, { force: true });
    if (typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
    throw ioError('write', file, error as NodeJS.ErrnoException);
  }
  syncDirectory(path.dirname(file));
}

/**
 * The directory fsync that makes the rename durable, off the event loop: a supervisor's commit
 * waits for it, but meanwhile its workers' reports are taken and waiting jobs handed out.
 */
function syncDirectoryAsync(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, 'r', (openError, fd) => {
      if (openError) return reject(openError);
      fs.fsync(fd, (syncError) => fs.close(fd, () => (syncError ? reject(syncError) : resolve())));
    });
  });
}

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes staging and temp files that a killed writer left behind. Call it under the lock. */
export function sweepLeftovers(dir: string, names: readonly string[]): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (names.some((name) => entry.startsWith(`${name}.next`))) fs.rmSync(path.join(dir, entry), { force: true });
  }
}
