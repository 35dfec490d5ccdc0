import { Option } from 'clipanion';
import { findJob, placeByCreation, restartJob } from '../../lifecycle/job.ts';
import type { Store } from '../../store/store.ts';
import { reviveDependents } from '../../lifecycle/workflow.ts';
import { QueueCommand } from './base.ts';

export class RestartCommand extends QueueCommand {
  static override paths = [['restart']];
  static override usage = QueueCommand.Usage({
    description: 'put finished jobs (completed, dead or cancelled) back in the queue',
    details: `
      Each job goes back to \`pending\`, due now, with a fresh set of runs (\`attempts\` and
      \`recoveries\` reset to 0). Its id, command, options, history and log are kept. A job that
      is pending, failed (waiting for a retry) or processing is refused. With several ids, either
      every job is restarted or none is.

      An archived job (see \`keep-finished\`) comes back into jobs.json at its place by creation.

      Jobs that never ran because this one ended dead or cancelled (they waited for it with
      \`--after\`) go back to pending too, waiting for it again: the chain goes on.
    `,
    examples: [
      ['Run a completed job again', '$0 restart job1'],
      ['Restart several jobs', '$0 restart job1 job2'],
    ],
  });

  ids = Option.Rest({ required: 1 });

  async run() {
    const revived: string[] = [];
    const ids = await restartJobs(this.store, this.ids, revived);
    this.out([...ids.map((id) => `restarted ${id}`), ...revived.map((id) => `waiting again: ${id}`)].join('\n'));
  }
}

/**
 * Puts finished jobs back to pending, all or none, archived ones included; returns their ids.
 * The ids of dependents that go back to waiting with them are added to `revived`.
 */
export async function restartJobs(store: Store, wanted: readonly string[], revived: string[] = []): Promise<string[]> {
  const ids = [...new Set(wanted)];
  await store.transact((doc, _config, tx) => {
    const now = store.now();
    const live = new Set(doc.jobs.map((job) => job.id));
    const targets = ids.map((id) => findJob(doc.jobs, id, tx.archived));
    // Every job is checked before any changes: one that cannot be restarted leaves all alone.
    const restarted = new Map(targets.map((job) => [job.id, restartJob(job, now)]));
    doc.jobs = doc.jobs.map((job) => restarted.get(job.id) ?? job);
    const chain = reviveDependents(doc.jobs, ids, now);
    doc.jobs = chain.jobs;
    revived.splice(0, revived.length, ...chain.revived);
    // An archived job comes back live at its place by creation time.
    const originals = targets.filter((job) => !live.has(job.id));
    doc.jobs = placeByCreation(doc.jobs, originals.map((job) => restarted.get(job.id)!));
  }, { archive: ids });
  return ids;
}
