/**
 * What a transaction sees of the archive (`tx.archived`, `tx.forget`), and what it changes there
 * before its jobs.json commit: jobs forgotten for good, archived jobs made live again, and
 * finished jobs beyond the retention limit moving out.
 */
import type { Job } from '../../lifecycle/job.ts';
import type { JobDefaults, JobsDocument } from '../../lifecycle/jobfile/document.ts';
import type { Home } from '../home.ts';
import type { Transaction, TransactOptions } from '../store.ts';
import { archivedOnly, archiveFinished, archiveIdentity, countArchived, pruneArchive, readArchive } from './archive.ts';

export interface ArchiveAccess extends Transaction {
  /** The archived jobs read so far (none unless `archived` was looked at). */
  readonly loaded: readonly Job[];
  readonly forgotten: readonly Job[];
}

/** The archived jobs a transaction asked for, read only when one of them is not live. */
export function archiveAccess(home: Home, defaults: JobDefaults, live: readonly Job[], wanted: TransactOptions['archive']): ArchiveAccess {
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

/**
 * Applies what the transaction did to the archive, under the lock, just before jobs.json's
 * totals are committed. Returns whether archived jobs were made live again: their archive lines
 * are dropped only after this commit.
 */
export function settleArchive(home: Home, defaults: JobDefaults, doc: JobsDocument, tx: ArchiveAccess, keep: number): boolean {
  if (tx.forgotten.length > 0) {
    const doomed = new Set(tx.forgotten.map(archiveIdentity));
    const pruned = pruneArchive(home, defaults, (jobs) => archivedOnly(doc.jobs, jobs).filter((job) => doomed.has(archiveIdentity(job))));
    doc.archived = countArchived(doc.archived, pruned, -1);
  }
  // Only a transaction that read the archive can have made archived jobs live: the others skip a pass over every job.
  const stillArchived = new Set(tx.loaded.length === 0 ? [] : archivedOnly(doc.jobs, tx.loaded));
  const madeLive = tx.loaded.filter((job) => !stillArchived.has(job));
  if (madeLive.length > 0) doc.archived = countArchived(doc.archived, madeLive, -1);
  archiveFinished(home, doc, keep);
  return madeLive.length > 0;
}
