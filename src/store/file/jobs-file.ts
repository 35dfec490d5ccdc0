/**
 * Reading jobs.json, and knowing when what was read need not be parsed or validated again.
 *
 * Parsing and validating every job is what a read of a deep queue costs; reading its bytes is
 * cheap. So every read reads the file, and then skips what it can prove unchanged:
 * - in this process, the document it last read or wrote is kept with its bytes: a file with the
 *   same identity (inode, size, mtime, ctime) and the same bytes is that document;
 * - across processes, a commit of a large file records in `jobs.json.written` the identity and a
 *   fingerprint of the bytes it wrote. A file that matches both was written by queuectl and
 *   changed by nobody since: it is parsed but not validated, and each job's bytes are taken from
 *   it, so that the next rewrite encodes only the jobs it changed.
 * A hand edit changes the bytes, so it is always noticed and validated, even one made in place
 * within the clock tick of queuectl's own write (which leaves the identity as it was).
 */
import fs from 'node:fs';
import path from 'node:path';
import { adoptWritten } from '../../lifecycle/jobfile/encode.ts';
import { emptyJobs, type JobDefaults, type JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { parseJobs, parseWritten } from '../../lifecycle/jobfile/parse.ts';
import { displayPath, type Home } from '../home.ts';
import { closeFence, currentIdentity, identityOf, openFenced, PRIVATE_FILE, type Fence } from './atomic.ts';

/** A jobs.json this process has read or written. */
interface Known {
  identity: string;
  bytes: Buffer;
  doc: JobsDocument;
  /** Written by this process (a change it made itself, as `watch` reports it). */
  own: boolean;
}

// By path: every FileStore of one store in this process shares what is known of its file.
const known = new Map<string, Known>();

/** Jobs are never changed in place (every transition makes a new object): a shallow copy of the array is a safe copy. */
const copyDoc = (doc: JobsDocument): JobsDocument => ({ ...doc, jobs: [...doc.jobs] });

/**
 * Below this size validating the file costs a few milliseconds, less than keeping the record
 * would be worth, and a small store keeps only the files a person expects to see.
 */
const RECORD_FROM_BYTES = 1 << 20;

/** Where a commit records the identity and the fingerprint of the jobs.json it wrote. */
export function writtenMark(home: Home): string {
  return path.join(home.dir, 'jobs.json.written');
}

/**
 * Two independent 32-bit hashes of the bytes, four bytes at a step: a few milliseconds for tens
 * of megabytes (node:crypto would cost every command its load time). Not a defence against
 * forgery, only against edits: a person who edits jobs.json does not aim at a 64-bit collision.
 */
export function fingerprint(bytes: Buffer): string {
  let a = 0x811c9dc5;
  let b = bytes.length | 0;
  const aligned = bytes.byteOffset % 4 === 0;
  const words = aligned ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) : null;
  const count = words ? words.length : 0;
  for (let index = 0; index < count; index++) {
    const word = words![index]!;
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul(b ^ word, 0x5bd1e995);
    b ^= b >>> 15;
  }
  for (let index = count * 4; index < bytes.length; index++) {
    a = Math.imul(a ^ bytes[index]!, 0x01000193);
    b = Math.imul(b ^ bytes[index]!, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return `${(a >>> 0).toString(16)}${(b >>> 0).toString(16).padStart(8, '0')}`;
}

function readMark(home: Home): string | null {
  try {
    return fs.readFileSync(writtenMark(home), 'utf8');
  } catch {
    // Missing or unreadable: the file is simply validated.
    return null;
  }
}

/** What a read under the lock hands to the commit: the bytes it saw and the fence that pins them. */
export interface Loaded {
  doc: JobsDocument;
  bytes: Buffer | null;
  fence: Fence;
}

export class JobsFile {
  constructor(
    private readonly home: Home,
    private readonly defaults: () => JobDefaults,
  ) {}

  private get file(): string {
    return this.home.jobs;
  }

  /** Whether jobs.json is still what this process last wrote: a hint for waking, so its identity is enough. */
  isOwnWrite(): boolean {
    const entry = known.get(this.file);
    return entry?.own === true && currentIdentity(this.file) === entry.identity;
  }

  /** Forgets what this process knows of the file: the next read parses and validates it. */
  forget(): void {
    known.delete(this.file);
  }

  /** A lock-free snapshot, validated unless known. A missing file is an empty queue. */
  read(): JobsDocument {
    const { doc, fence } = this.load();
    closeFence(fence);
    return doc;
  }

  /**
   * The document as it is now, with the fence for a commit (close it when done). The caller
   * must not change the jobs in the returned document in place, only replace them.
   */
  load(): Loaded {
    const entry = known.get(this.file);
    const { bytes, fence, settled, same } = openFenced(this.file, entry?.bytes ?? null);
    if (bytes === null) return { doc: emptyJobs(), bytes, fence };
    if (entry && same && settled && entry.identity === fence.identity) return { doc: copyDoc(entry.doc), bytes: entry.bytes, fence };
    let doc: JobsDocument;
    try {
      doc = this.parse(bytes, settled && this.wasWritten(fence.identity, bytes));
    } catch (error) {
      this.forget();
      closeFence(fence);
      throw error;
    }
    if (settled && fence.identity !== null) known.set(this.file, { identity: fence.identity, bytes, doc: copyDoc(doc), own: false });
    else this.forget();
    return { doc, bytes, fence };
  }

  private wasWritten(identity: string | null, bytes: Buffer): boolean {
    if (identity === null || bytes.length < RECORD_FROM_BYTES) return false;
    const mark = readMark(this.home);
    return mark !== null && mark.startsWith(`${identity} `) && mark === `${identity} ${fingerprint(bytes)}`;
  }

  private parse(bytes: Buffer, written: boolean): JobsDocument {
    const name = displayPath(this.file);
    if (!written) return parseJobs(bytes.toString('utf8'), name, this.defaults());
    const doc = parseWritten(bytes.toString('utf8'), name, this.defaults());
    adoptWritten(doc.jobs, bytes);
    return doc;
  }

  /**
   * After a commit (under the lock): what this process wrote, remembered, and recorded for other
   * processes. `inode` is the staged file's: if the file now at the path is another (a
   * successor's, after a lost lock), nothing is remembered or recorded.
   */
  committed(bytes: Buffer, doc: JobsDocument, inode: bigint): void {
    this.forget();
    let stat: fs.BigIntStats;
    try {
      stat = fs.statSync(this.file, { bigint: true });
    } catch {
      // Not remembering only costs a parse next time.
      return;
    }
    if (stat.ino !== inode || stat.size !== BigInt(bytes.length)) return;
    const identity = identityOf(stat);
    known.set(this.file, { identity, bytes, doc: copyDoc(doc), own: true });
    this.record(bytes.length >= RECORD_FROM_BYTES ? `${identity} ${fingerprint(bytes)}` : null);
  }

  /** Without the record (or with a stale one), other processes validate the file: slower, never wrong. */
  private record(mark: string | null): void {
    const file = writtenMark(this.home);
    try {
      if (mark === null) fs.rmSync(file, { force: true });
      else fs.writeFileSync(file, mark, { mode: PRIVATE_FILE });
    } catch {
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // A store whose directory refuses both: its other processes validate the file.
      }
    }
  }
}
