import { Option } from 'clipanion';
import { clip, renderTable } from '../../table.ts';
import { relativeTime } from '../../../lifecycle/duration.ts';
import { QueueCommand } from '../base.ts';

export class ScheduleListCommand extends QueueCommand {
  static override paths = [['schedule', 'list']];
  static override usage = QueueCommand.Usage({
    category: 'Schedules',
    description: 'list the schedules with their next firing times',
    details: `
      NEXT is when the schedule fires next. A time already past means no supervisor has run
      since: the first one to start fires it once.
    `,
    examples: [
      ['List the schedules', '$0 schedule list'],
      ['As a JSON array', '$0 schedule list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  async run() {
    const schedules = (await this.store.readJobs()).schedules ?? [];
    if (this.asJson) return this.json(schedules);
    if (schedules.length === 0) return this.out('no schedules (add one with: queuectl schedule add NAME --cron EXPR -- CMD)');
    const now = this.context.now();
    const rows = schedules.map((schedule) => [
      schedule.name,
      schedule.cron,
      schedule.tz ?? 'UTC',
      `${schedule.next_at} (${Date.parse(schedule.next_at) <= now.getTime() ? 'due: fires when a supervisor runs' : relativeTime(schedule.next_at, now)})`,
      schedule.last_fired_at ?? '-',
      clip(schedule.job.command, 40),
    ]);
    this.context.stdout.write(renderTable(['NAME', 'CRON', 'TZ', 'NEXT', 'LAST FIRED', 'COMMAND'], rows));
  }
}
