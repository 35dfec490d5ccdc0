/**
 * Reading jobs.json, and knowing when it need not be read again.
 *
 * Parsing and validating every job is what a read of a deep queue costs, so the store skips what
 * it can prove unchanged:
 * - in this process, the document it last read or wrote is kept with a descriptor that pins the
 *   file's inode: while jobs.json is still that file (same identity: inode, size, mtime and
 *   ctime), it is used as it is, without reading the file at all;
 * - across processes, a commit of a large file records the identity of the file it wrote in
 *   `jobs.json.written`. A file whose identity is the recorded one was written by queuectl and
 *   touched by nobody since: it is parsed but not validated again, and each job's bytes are
 *   taken from it, so the next rewrite encodes only the jobs it changed. Any edit changes the
 *   identity (an edit in place its mtime and ctime, an editor's save its inode), so a hand edit
 *   is always validated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { adoptEncoded } from '../../lifecycle/jobfile/encode.ts';
import { emptyJobs, type JobDefaults, type JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { parseJobs, parseWritten } from '../../lifecycle/jobfile/parse.ts';
import { displayPath, type Home } from '../home.ts';
import { closeFence, currentIdentity, identityOf, openFenced, PRIVATE_FILE, type Fence } from './atomic.ts';

/** A jobs.json this process has read or written, as long as it is still the file on disk. */
interface Known {
  /** Open: while it is, no other file can get the inode's number. */
  fd: number;
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

/**
 * Below this size validating the file costs a few milliseconds, less than keeping the record
 * would be worth, and a small store keeps only the files a person expects to see.
 */
const RECORD_FROM_BYTES = 1 << 20;

/** Where a commit records the identity of the jobs.json it wrote. */
export function writtenMark(home: Home): string {
  return path.join(home.dir, 'jobs.json.written');
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

  /** Whether jobs.json is still what this process last wrote: nobody else has changed it since. */
  isOwnWrite(): boolean {
    return recall(this.file)?.own === true;
  }

  /** Forgets what this process knows of the file: the next read reads it. */
  forget(): void {
    forget(this.file);
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
    const remembered = recall(this.file);
    // The remembered descriptor stays open and pins the inode: the identity alone is the fence.
    if (remembered) return { doc: copyDoc(remembered.doc), bytes: remembered.bytes, fence: { fd: null, identity: remembered.identity } };
    const { bytes, fence, settled } = openFenced(this.file);
    if (bytes === null) return { doc: emptyJobs(), bytes, fence };
    let doc: JobsDocument;
    try {
      doc = this.parse(bytes, settled && readMark(this.home) === fence.identity);
    } catch (error) {
      closeFence(fence);
      throw error;
    }
    if (!settled || fence.fd === null || fence.identity === null) return { doc, bytes, fence };
    // The fence's descriptor becomes the remembered one, which pins the inode from now on.
    this.keep({ fd: fence.fd, identity: fence.identity, bytes, doc: copyDoc(doc), own: false });
    return { doc, bytes, fence: { fd: null, identity: fence.identity } };
  }

  private parse(bytes: Buffer, written: boolean): JobsDocument {
    const name = displayPath(this.file);
    if (!written) return parseJobs(bytes.toString('utf8'), name, this.defaults());
    const doc = parseWritten(bytes.toString('utf8'), name, this.defaults());
    adoptEncoded(doc.jobs, bytes);
    return doc;
  }

  /**
   * After a commit (under the lock): what this process wrote, remembered, and its identity
   * recorded for other processes. `inode` is the staged file's: if the file now at the path is
   * another (a successor's, after a lost lock), nothing is remembered or recorded.
   */
  committed(bytes: Buffer, doc: JobsDocument, inode: bigint): void {
    forget(this.file);
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      // Not remembering only costs a read next time.
      return;
    }
    const stat = fs.fstatSync(fd, { bigint: true });
    if (stat.ino !== inode || stat.size !== BigInt(bytes.length)) {
      fs.closeSync(fd);
      return;
    }
    const identity = identityOf(stat);
    this.keep({ fd, identity, bytes, doc: copyDoc(doc), own: true });
    this.record(bytes.length >= RECORD_FROM_BYTES ? identity : null);
  }

  /** Without the record (or with a stale one), other processes validate the file: slower, never wrong. */
  private record(identity: string | null): void {
    const mark = writtenMark(this.home);
    try {
      if (identity === null) fs.rmSync(mark, { force: true });
      else fs.writeFileSync(mark, identity, { mode: PRIVATE_FILE });
    } catch {
      fs.rmSync(mark, { force: true });
    }
  }

  private keep(entry: Known): void {
    forget(this.file);
    known.set(this.file, entry);
  }
}
