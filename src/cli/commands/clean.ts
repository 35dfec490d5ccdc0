import { Option } from 'clipanion';
import type { State } from '../../lifecycle/job.ts';
import { invalid } from '../../lifecycle/error.ts';
import { expiredNow, removeExpired } from '../../operations/clean.ts';
import { renderJobs } from '../view.ts';
import { parseState } from './list.ts';
import { QueueCommand } from './base.ts';

/** What `clean` removes unless told otherwise: dead jobs are the DLQ's, for a person to look at. */
const CLEANED_STATES: readonly State[] = ['completed', 'cancelled'];
const CLEANABLE_STATES: readonly State[] = ['completed', 'cancelled', 'dead'];

export class CleanCommand extends QueueCommand {
  static override paths = [['clean']];
  static override usage = QueueCommand.Usage({
    description: 'delete completed and cancelled jobs and their logs',
    details: `
      Dead jobs are kept unless asked for with \`--state dead\` (or \`queuectl dlq purge\`): they
      are the dead letter queue, for a person to look at. Archived jobs are deleted too.
      \`--dry-run\` lists what would go and changes nothing.
    `,
    examples: [
      ['Delete every completed and cancelled job', '$0 clean'],
      ['See what would go, without deleting', '$0 clean --dry-run'],
      ['Delete jobs that finished over a day ago', '$0 clean --older-than 1d'],
      ['Delete dead jobs too', '$0 clean --state dead'],
    ],
  });

  olderThan = Option.String('--older-than', { description: 'only jobs finished at least this long ago, such as 7d' });
  state = Option.String('--state', { description: 'only finished jobs in this state: completed, cancelled or dead' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'list what would be deleted, delete nothing' });

  async run() {
    const states: readonly State[] = this.state === undefined ? CLEANED_STATES : [parseState(this.state)];
    if (!states.every((state) => CLEANABLE_STATES.includes(state))) throw invalid(`--state must be a finished state: ${CLEANABLE_STATES.join(', ')}`);
    const plural = (count: number) => `${count} finished job${count === 1 ? '' : 's'}`;
    if (this.dryRun) {
      const doomed = await expiredNow(this.store, states, this.olderThan);
      const kept = await this.deadKept();
      if (doomed.length === 0) return this.out(`would remove ${plural(0)}${kept}`);
      return this.out(`would remove ${plural(doomed.length)}${kept}:\n${renderJobs(doomed, this.context.now())}`);
    }
    const count = await removeExpired(this.store, states, this.olderThan);
    this.out(`removed ${plural(count)}${await this.deadKept()}`);
  }

  /** Said when dead jobs that would otherwise have gone are kept: the default may surprise. */
  private async deadKept(): Promise<string> {
    if (this.state !== undefined) return '';
    const kept = (await expiredNow(this.store, ['dead'], this.olderThan)).length;
    return kept === 0 ? '' : `; ${kept} dead job${kept === 1 ? '' : 's'} kept (delete with: queuectl clean --state dead)`;
  }
}
