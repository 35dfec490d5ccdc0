/**
 * `export` and `import`: a whole queue (jobs, archived ones included, queue settings and
 * schedules) in the jobs.json format, so that it moves between the file store and PostgreSQL.
 * Pure: the commands read and write through the store.
 */
import { QueueError } from './error.ts';
import type { Job } from './job.ts';
import { recoverJob } from './transition.ts';
import { FORMAT_VERSION, type JobsDocument } from './jobfile/document.ts';

/** The queue as one document: every job in creation order, nothing counted as archived. */
export function exportQueue(doc: JobsDocument, all: readonly Job[]): JobsDocument {
  const exported: JobsDocument = { version: FORMAT_VERSION, jobs: [...all] };
  if (doc.queues) exported.queues = doc.queues;
  if (doc.schedules) exported.schedules = doc.schedules;
  return exported;
}

/**
 * Adds an exported queue to `doc`, all or nothing. An id or a schedule name that the store has
 * already is a conflict. A job that was processing in the other store comes in pending: its run
 * belonged to a supervisor of that store, which is not here to finish it. Queue settings are
 * taken for the queues the store has none for.
 */
export function importQueue(doc: JobsDocument, incoming: JobsDocument, existing: ReadonlySet<string>, now: Date): { jobs: number; schedules: number } {
  const taken = incoming.jobs.filter((job) => existing.has(job.id)).map((job) => job.id);
  if (taken.length > 0) {
    throw new QueueError('conflict', `the store already has job${taken.length === 1 ? '' : 's'} ${list(taken)}; nothing was imported (import into an empty store, or remove them first)`);
  }
  const names = new Set((doc.schedules ?? []).map((schedule) => schedule.name));
  const clashing = (incoming.schedules ?? []).filter((schedule) => names.has(schedule.name)).map((schedule) => schedule.name);
  if (clashing.length > 0) throw new QueueError('conflict', `the store already has schedule${clashing.length === 1 ? '' : 's'} ${list(clashing)}; nothing was imported`);
  const arriving = incoming.jobs.map((job) => (job.state === 'processing' ? recoverJob(job, 'imported while it was running in another store', now, 'forced') : job));
  doc.jobs = [...doc.jobs, ...arriving].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  if (incoming.queues) doc.queues = { ...incoming.queues, ...doc.queues };
  if (incoming.schedules?.length) doc.schedules = [...(doc.schedules ?? []), ...incoming.schedules];
  return { jobs: arriving.length, schedules: incoming.schedules?.length ?? 0 };
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, 5).map((item) => `"${item}"`).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}
