import { Option } from 'clipanion';
import { invalid, QueueError } from '../../lifecycle/error.ts';
import { parseJobs } from '../../lifecycle/jobfile/parse.ts';
import { importQueue } from '../../lifecycle/transfer.ts';
import { readInput } from '../input.ts';
import { QueueCommand } from './base.ts';

/**
 * parseJobs advises on a broken jobs.json of the store (restore it from git); a file given to
 * import is the user's own input, to check or print again, and nothing in the store is touched.
 */
function withImportAdvice<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof QueueError)) throw error;
    const advice = '; nothing was imported: check the file, or print it again with queuectl export';
    throw new QueueError(error.code, error.message.replace(/; (fix it by hand or restore it from git|restore it from git or a backup, or delete it to start an empty queue)$/, '') + advice);
  }
}

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
    if (text.trim() === '') throw invalid(`${where} is empty: nothing to import; give a file printed by queuectl export (or a jobs.json)`);
    const config = await this.store.readConfig();
    const incoming = withImportAdvice(() => parseJobs(text, where, this.store.jobDefaults(config)));
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
