/**
 * The archive: finished jobs beyond the retention limit leave jobs.json, so that every rewrite
 * stays small, and are appended to `.queuectl/archive.jsonl`, one job per line. `list`, `show`,
 * `wait` and `logs` still find them; `status` counts them from jobs.json's `archived` totals,
 * without reading the archive.
 *
 * Jobs are appended (and fsynced) under the lock before the jobs.json commit that removes them.
 * A crash in between leaves them in both files; they are appended again next time, and readers
 * keep one copy of a job (same id and creation time), the last.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ioError, PRIVATE_FILE, replaceFileSync } from './atomic.ts';
import { invalid } from '../../lifecycle/error.ts';
import { displayPath, type Home } from '../home.ts';
import type { Job } from '../../lifecycle/job.ts';
import { jobsToArchive } from '../../lifecycle/retention.ts';
import { toStored } from '../../lifecycle/jobfile/keys.ts';
import { checkJob } from '../../lifecycle/jobfile/schema.ts';
import { NOTHING_ARCHIVED, type Archived, type JobDefaults, type JobsDocument } from '../../lifecycle/jobfile/document.ts';

export function archiveFile(home: Home): string {
  return path.join(home.dir, 'archive.jsonl');
}

/** Appends jobs as JSON lines and fsyncs; a short write is an error, not a silent truncation. */
export function appendArchive(home: Home, jobs: readonly Job[]): void {
  const file = archiveFile(home);
  const data = Buffer.from(serializeArchive(jobs));
  let fd: number;
  try {
    fd = fs.openSync(file, 'a', PRIVATE_FILE);
  } catch (error) {
    throw ioError('open', file, error as NodeJS.ErrnoException);
  }
  try {
    let written = 0;
    while (written < data.length) {
      const count = fs.writeSync(fd, data, written, data.length - written);
      if (count === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      written += count;
    }
    fs.fsyncSync(fd);
  } catch (error) {
    throw ioError('append to', file, error as NodeJS.ErrnoException);
  } finally {
    fs.closeSync(fd);
  }
}

/** One job's identity across the archive and jobs.json: an id reused later names another job. */
export function archiveIdentity(job: Job): string {
  return `${job.id}\n${job.created_at}`;
}

/** Adds the jobs on archive lines to `into` (a later copy of a job replaces an earlier one). */
function parseLines(text: string, firstLine: number, file: string, defaults: JobDefaults, into: Map<string, Job>): void {
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let job: Job;
    try {
      job = checkJob(JSON.parse(line), defaults);
    } catch (error) {
      throw invalid(`${displayPath(file)} line ${firstLine + index}: ${(error as Error).message}`);
    }
    into.delete(archiveIdentity(job));
    into.set(archiveIdentity(job), job);
  });
}

/** Every archived job, one copy each, oldest line first. */
export function readArchive(home: Home, defaults: JobDefaults): Job[] {
  const file = archiveFile(home);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const byIdentity = new Map<string, Job>();
  parseLines(text, 1, file, defaults, byIdentity);
  return [...byIdentity.values()];
}

/**
 * The archive for a long-running reader (the dashboard): it is append-only between prunes, so
 * each read parses only the lines added since the last one. A replaced (pruned) or shorter file
 * is read again whole. 100,000 archived jobs take seconds to parse, a few new lines nothing.
 */
export class ArchiveFollower {
  private ino = -1;
  private offset = 0;
  private lines = 0;
  private jobs = new Map<string, Job>();

  constructor(private readonly home: Home) {}

  read(defaults: JobDefaults): Job[] {
    const file = archiveFile(this.home);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.reset(-1);
      return [];
    }
    try {
      const { ino, size } = fs.fstatSync(fd);
      if (ino !== this.ino || size < this.offset) this.reset(ino);
      if (size === this.offset) return [...this.jobs.values()];
      const added = Buffer.alloc(size - this.offset);
      fs.readSync(fd, added, 0, added.length, this.offset);
      // A line still being appended is read next time, whole.
      const end = added.lastIndexOf(0x0a) + 1;
      const text = added.subarray(0, end).toString('utf8');
      parseLines(text, this.lines + 1, file, defaults, this.jobs);
      this.offset += end;
      this.lines += text.split('\n').length - 1;
      return [...this.jobs.values()];
    } finally {
      fs.closeSync(fd);
    }
  }

  private reset(ino: number): void {
    this.ino = ino;
    this.offset = 0;
    this.lines = 0;
    this.jobs = new Map();
  }
}

/** The `archived` totals after `jobs` were added (sign 1) or removed (sign -1). */
export function countArchived(totals: Archived | undefined, jobs: readonly Job[], sign: 1 | -1): Archived {
  const next = { ...(totals ?? NOTHING_ARCHIVED) };
  for (const job of jobs) if (job.state === 'completed' || job.state === 'cancelled') next[job.state] = Math.max(0, next[job.state] + sign);
  return next;
}

/** Moves finished jobs beyond `keep` from the document to the archive. Call it under the lock. */
export function archiveFinished(home: Home, doc: JobsDocument, keep: number): void {
  const moving = jobsToArchive(doc.jobs, keep);
  if (moving.length === 0) return;
  appendArchive(home, moving);
  const gone = new Set(moving);
  doc.jobs = doc.jobs.filter((job) => !gone.has(job));
  doc.archived = countArchived(doc.archived, moving, 1);
}

export function serializeArchive(jobs: readonly Job[]): string {
  return jobs.map((job) => `${JSON.stringify(toStored(job))}\n`).join('');
}

/** Removes the archived jobs `select` picks, rewriting the archive; returns them. Call it under the lock. */
export function pruneArchive(home: Home, defaults: JobDefaults, select: (jobs: readonly Job[]) => Job[]): Job[] {
  const jobs = readArchive(home, defaults);
  const removed = new Set(select(jobs));
  if (removed.size === 0) return [];
  replaceFileSync(archiveFile(home), serializeArchive(jobs.filter((job) => !removed.has(job))));
  return [...removed];
}

/** Archived jobs that are not (any more) in jobs.json: a restarted job's old copy is not one. */
export function archivedOnly(live: readonly Job[], archived: readonly Job[]): Job[] {
  const current = new Set(live.map(archiveIdentity));
  return archived.filter((job) => !current.has(archiveIdentity(job)));
}

/** What readers see: the live jobs and the archived ones that are not live. */
export function withArchive(live: readonly Job[], archived: readonly Job[]): Job[] {
  // The live jobs keep their order (creation order, by definition); archived ones are older.
  return [...archivedOnly(live, archived), ...live];
}

/** Removes the archive's copies of jobs that are in jobs.json again. Call it under the lock. */
export function dropReturned(home: Home, defaults: JobDefaults, live: readonly Job[]): Job[] {
  const current = new Set(live.map(archiveIdentity));
  return pruneArchive(home, defaults, (jobs) => jobs.filter((job) => current.has(archiveIdentity(job))));
}
