import { serializeJobs } from '../../lifecycle/jobfile/encode.ts';
import { exportQueue } from '../../lifecycle/transfer.ts';
import { QueueCommand } from './base.ts';

export class ExportCommand extends QueueCommand {
  static override paths = [['export']];
  static override usage = QueueCommand.Usage({
    category: 'Moving a queue',
    description: 'print the whole queue in the jobs.json format, to move it to another store',
    details: `
      Prints every job (archived ones included), the queue settings and the schedules as one
      document in the format of \`.queuectl/jobs.json\`, from whichever store is in use: the
      JSON file, or PostgreSQL when \`QUEUECTL_DATABASE_URL\` is set. \`queuectl import\` loads
      it into another store. Settings (\`config\`) are not part of it: set them there with
      \`queuectl config set\`. Job logs stay where they are.
    `,
    examples: [
      ['Move a queue from the file store to PostgreSQL', '$0 export > queue.json && QUEUECTL_DATABASE_URL=postgres://... $0 import queue.json'],
      ['Keep a copy of the queue', '$0 export > backup.json'],
    ],
  });

  async run() {
    const doc = await this.store.readJobs();
    this.context.stdout.write(serializeJobs(exportQueue(doc, await this.store.readAllJobs())));
  }
}
