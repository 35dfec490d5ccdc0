/**
 * How far a batch of benchmark jobs has got, read lock-free from jobs.json the way `status`
 * reads it, but cheaply: a batch is enqueued last, so it sits at the end of the file, and only
 * the tail from the batch's first job on is scanned. Parsing an 86 MB store every 50 ms would
 * steal the CPU the supervisor is being measured on.
 */
import fs from 'node:fs';

export interface Progress {
  /** pending, processing or failed (waiting for a retry). */
  unfinished: number;
  completed: number;
  /** Any other state (dead, cancelled): a benchmark job should never end there. */
  other: number;
}

const UNFINISHED = new Set(['pending', 'processing', 'failed']);

export class BatchWatch {
  /** Bytes read from the end: grown until it holds the batch's first job, then kept just above. */
  private window = 64 * 1024;

  /** The batch's ids: the first one without its trailing digits (`drain-000000` → `drain-`). */
  private readonly prefix: string;

  constructor(private readonly file: string, private readonly firstId: string) {
    this.prefix = firstId.replace(/\d+$/, '');
  }

  read(): Progress {
    for (;;) {
      const fd = fs.openSync(this.file, 'r');
      let text: string;
      let whole: boolean;
      try {
        const size = fs.fstatSync(fd).size;
        const length = Math.min(size, this.window);
        const buffer = Buffer.alloc(length);
        fs.readSync(fd, buffer, 0, length, size - length);
        text = buffer.toString('utf8');
        whole = length === size;
      } finally {
        fs.closeSync(fd);
      }
      const at = text.indexOf(`"${this.firstId}"`);
      if (at === -1 && !whole) {
        this.window *= 2;
        continue;
      }
      // The batch grows as its jobs gain history: leave room, so the next read rarely retries.
      if (at !== -1) this.window = Math.max(this.window, Math.ceil((text.length - at) * 1.25) + 4096);
      // Not found in the whole file: the batch's first job was moved to an archive, so the whole
      // file is read; only the batch's own jobs count either way, since the store may also hold
      // jobs that are waiting and not due (the depth the batch is drained at).
      return count(at === -1 ? text : text.slice(at), this.prefix);
    }
  }
}

/** Counts the states of the jobs whose id starts with `prefix` (a job's `id` comes before its `state`). */
function count(text: string, prefix: string): Progress {
  const progress: Progress = { unfinished: 0, completed: 0, other: 0 };
  let inBatch = false;
  for (const match of text.matchAll(/"id":\s*"([^"]*)"|"state":\s*"([a-z]+)"/g)) {
    if (match[1] !== undefined) {
      inBatch = match[1].startsWith(prefix);
      continue;
    }
    if (!inBatch) continue;
    const state = match[2] as string;
    if (UNFINISHED.has(state)) progress.unfinished++;
    else if (state === 'completed') progress.completed++;
    else progress.other++;
  }
  return progress;
}
