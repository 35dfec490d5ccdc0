import { Option } from 'clipanion';
import { parseJobs } from '../../lifecycle/jobfile/parse.ts';
import { importQueue } from '../../lifecycle/transfer.ts';
import { readInput } from '../input.ts';
import { QueueCommand } from './base.ts';

export class ImportCommand extends QueueCommand {
  static override paths = [['import']];
  static override usage = QueueCommand.Usage({
    category: 'Moving a queue',
    description: 'load a queue printed by queuectl export (or a jobs.json) into this store',
    details: `
      Adds every job, queue setting and schedule of FILE (\`-\` for stdin) to the store in use, in
      one transaction: if any job id or schedule name is already there, nothing is imported.
      Jobs keep their state, runs and history; one that was processing in the other store comes
      in pending, since its run belonged to a supervisor of that store. Queue settings are taken
      for queues that have none here.
    `,
    examples: [
      ['Move a queue to PostgreSQL', 'QUEUECTL_DATABASE_URL=postgres://... $0 import queue.json'],
      ['Load a committed jobs.json into an empty store', '$0 import fixtures/jobs.json'],
    ],
  });

  file = Option.String({ name: 'FILE' });

  async run() {
    const text = await readInput(this.file, this.context.stdin);
    const where = this.file === '-' ? 'stdin' : this.file;
    const config = await this.store.readConfig();
    const incoming = parseJobs(text, where, this.store.jobDefaults(config));
    const ids = incoming.jobs.map((job) => job.id);
    const counts = await this.store.transact(
      (doc, _config, tx) => {
        const existing = new Set([...doc.jobs.map((job) => job.id), ...tx.archived.map((job) => job.id)]);
        return importQueue(doc, incoming, existing, this.store.now());
      },
      { archive: ids },
    );
    this.out(`imported ${counts.jobs} job${counts.jobs === 1 ? '' : 's'}${counts.schedules > 0 ? ` and ${counts.schedules} schedule${counts.schedules === 1 ? '' : 's'}` : ''} into ${this.store.where}`);
  }
}
