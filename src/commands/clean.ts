import { Option } from 'clipanion';
import { parseDuration } from '../duration.ts';
import { expiredJobs, FINISHED_STATES, type State } from '../job.ts';
import { removeLogs } from '../joblog.ts';
import { countArchived, pruneArchive } from '../archive.ts';
import { jobDefaults, transact, type StoreContext } from '../store.ts';
import { invalid } from '../error.ts';
import { parseState } from './list.ts';
import { QueueCommand } from './base.ts';

export class CleanCommand extends QueueCommand {
  static override paths = [['clean']];
  static override usage = QueueCommand.Usage({
    description: 'delete finished jobs (completed, dead, cancelled) and their logs',
    examples: [
      ['Delete every finished job', '$0 clean'],
      ['Delete jobs that finished over a day ago', '$0 clean --older-than 1d'],
      ['Delete only completed jobs', '$0 clean --state completed'],
    ],
  });

  olderThan = Option.String('--older-than', { description: 'only jobs finished at least this long ago, such as 7d' });
  state = Option.String('--state', { description: 'only finished jobs in this state' });

  async run() {
    const states: readonly State[] = this.state === undefined ? FINISHED_STATES : [parseState(this.state)];
    if (!states.every((state) => FINISHED_STATES.includes(state))) throw invalid(`--state must be a finished state: ${FINISHED_STATES.join(', ')}`);
    const count = await removeExpired(this.store, states, this.olderThan);
    this.out(`removed ${count} finished job${count === 1 ? '' : 's'}`);
  }
}

/** Shared by `clean` and `dlq purge`: removes expired jobs in one transaction, then their logs. */
export async function removeExpired(store: StoreContext, states: readonly State[], olderThan: string | undefined): Promise<number> {
  let age = 0;
  try {
    if (olderThan !== undefined) age = parseDuration(olderThan);
  } catch (error) {
    throw invalid(`--older-than: ${(error as Error).message}`);
  }
  const removed = await transact(store, (doc, config) => {
    const cutoff = store.now().getTime() - age;
    const doomed = new Set(expiredJobs(doc.jobs, states, cutoff).map((job) => job.id));
    doc.jobs = doc.jobs.filter((job) => !doomed.has(job.id));
    // The archive is rewritten under the same lock, just before jobs.json's totals are committed.
    const archived = pruneArchive(store.home, jobDefaults(store, config), (jobs) => expiredJobs(jobs, states, cutoff));
    doc.archived = countArchived(doc.archived, archived, -1);
    const live = new Set(doc.jobs.map((job) => job.id));
    return { count: doomed.size + archived.length, logs: [...doomed, ...archived.map((job) => job.id)].filter((id) => !live.has(id)) };
  });
  removeLogs(store.home, removed.logs);
  return removed.count;
}
