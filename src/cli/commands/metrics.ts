import fs from 'node:fs';
import path from 'node:path';
import { Option } from 'clipanion';
import { invalid } from '../../lifecycle/error.ts';
import { renderMetrics } from '../../lifecycle/exposition.ts';
import { gatherMetrics } from '../../operations/metrics.ts';
import { QueueCommand } from './base.ts';

export class MetricsCommand extends QueueCommand {
  static override paths = [['metrics']];
  static override usage = QueueCommand.Usage({
    description: 'print the queue\'s metrics for Prometheus',
    details: `
      Prints the metrics that \`GET /metrics\` on the dashboard serves, in Prometheus' text
      format (0.0.4): jobs by queue and state, runs in the last hour by result, a histogram of
      recent run durations, supervisors by host and phase, workers and busy workers, how late each
      schedule is, and how long the next job has waited. \`--prometheus\` is required: for a
      summary to read, see \`queuectl status\`.

      For node_exporter's textfile collector, \`--output FILE\` writes the file whole (a temporary
      file renamed over it), so the collector never reads half of it; run it from cron or a timer.
    `,
    examples: [
      ['Print the metrics', '$0 metrics --prometheus'],
      ['Feed node_exporter\'s textfile collector every minute (crontab)', '* * * * * cd /srv/jobs && $0 metrics --prometheus --output /var/lib/node_exporter/textfile/queuectl.prom'],
    ],
  });

  prometheus = Option.Boolean('--prometheus', false, { description: 'print the Prometheus text format (required)' });
  output = Option.String('--output,-o', { description: 'write to this file (atomically) instead of stdout' });

  async run() {
    if (!this.prometheus) throw invalid('metrics prints the Prometheus text format: give --prometheus (for a summary to read, see queuectl status)');
    const text = renderMetrics(await gatherMetrics(this.store));
    if (this.output === undefined) return void this.context.stdout.write(text);
    const target = path.resolve(this.context.cwd, this.output);
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(temp, text, { mode: 0o644 });
      fs.renameSync(temp, target);
    } catch (error) {
      fs.rmSync(temp, { force: true });
      throw invalid(`cannot write ${this.output}: ${(error as Error).message}`);
    }
  }
}
