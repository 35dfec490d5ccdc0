/**
 * lowdb's seam to our files: a document read under the lock, written back only if its bytes
 * changed, through the guarded replace of atomic.ts. lowdb holds the document; this does all I/O.
 */
import type { Adapter } from 'lowdb';
import { closeFence, replaceFile, type Fence } from './atomic.ts';
import type { LockHandle } from './lock.ts';

/** Where a document comes from, and what hears of a commit. */
export interface Source<T> {
  file: string;
  load(): { data: T | null; bytes: Buffer | null; fence: Fence };
  encode(data: T): Buffer;
  /** What an absent file means (a new copy each time); writing it back unchanged creates nothing. */
  absent(): T;
  committed?(bytes: Buffer, data: T, inode: bigint): void;
}

/** What a transaction did to the disk, so that one refused leaves no trace. */
export interface Effects {
  wrote: boolean;
}

export class FencedAdapter<T> implements Adapter<T> {
  private fence: Fence = { fd: null, identity: null };
  private original: Buffer | null = null;

  constructor(
    private readonly source: Source<T>,
    private readonly lock: LockHandle,
    private readonly effects: Effects,
  ) {}

  async read(): Promise<T | null> {
    const { data, bytes, fence } = this.source.load();
    this.fence = fence;
    this.original = bytes;
    return data;
  }

  async write(data: T): Promise<void> {
    const bytes = this.source.encode(data);
    if (bytes.equals(this.original ?? this.source.encode(this.source.absent()))) return;
    const { inode } = await replaceFile(this.source.file, bytes, this.fence, () => this.lock.held());
    this.effects.wrote = true;
    this.original = bytes;
    this.source.committed?.(bytes, data, inode);
  }

  close(): void {
    closeFence(this.fence);
  }
}
