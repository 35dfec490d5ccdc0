import { Builtins, Cli } from 'clipanion';
import type { QueueContext } from './commands/base.ts';
import { ConfigGetCommand } from './commands/config/get.ts';
import { ConfigListCommand } from './commands/config/list.ts';
import { ConfigSetCommand } from './commands/config/set.ts';
import { DlqListCommand } from './commands/dlq/list.ts';
import { DlqPurgeCommand } from './commands/dlq/purge.ts';
import { DlqRetryCommand } from './commands/dlq/retry.ts';
import { EditCommand } from './commands/edit.ts';
import { EnqueueCommand } from './commands/enqueue.ts';
import { HelpCommand } from './commands/help.ts';
import { ListCommand } from './commands/list.ts';
import { MetricsCommand } from './commands/metrics.ts';
import { RestartCommand } from './commands/restart.ts';
import { CancelCommand } from './commands/cancel.ts';
import { CleanCommand } from './commands/clean.ts';
import { DashboardCommand } from './commands/dashboard.ts';
import { ExportCommand } from './commands/export.ts';
import { ImportCommand } from './commands/import.ts';
import { LogsCommand } from './commands/logs.ts';
import { ShowCommand } from './commands/show.ts';
import { StatusCommand } from './commands/status.ts';
import { WaitCommand } from './commands/wait.ts';
import { WorkerStartCommand } from './commands/worker/start.ts';
import { WorkerStopCommand } from './commands/worker/stop.ts';
import { QueueListCommand } from './commands/queue/list.ts';
import { QueuePauseCommand } from './commands/queue/pause.ts';
import { QueueResumeCommand } from './commands/queue/resume.ts';
import { QueueSetCommand } from './commands/queue/set.ts';
import { ScheduleAddCommand } from './commands/schedule/add.ts';
import { ScheduleListCommand } from './commands/schedule/list.ts';
import { ScheduleRemoveCommand } from './commands/schedule/remove.ts';
import { withValueKinds, type CommandName } from './usage.ts';

export const VERSION = '0.1.0';

const QUEUE_COMMANDS = [
  EnqueueCommand,
  EditCommand,
  ListCommand,
  ShowCommand,
  LogsCommand,
  WaitCommand,
  CancelCommand,
  RestartCommand,
  CleanCommand,
  StatusCommand,
  MetricsCommand,
  WorkerStartCommand,
  WorkerStopCommand,
  DashboardCommand,
  QueueListCommand,
  QueueSetCommand,
  QueuePauseCommand,
  QueueResumeCommand,
  ScheduleAddCommand,
  ScheduleListCommand,
  ScheduleRemoveCommand,
  DlqListCommand,
  DlqRetryCommand,
  DlqPurgeCommand,
  ConfigGetCommand,
  ConfigSetCommand,
  ConfigListCommand,
  ExportCommand,
  ImportCommand,
];

/**
 * clipanion, with each option's kind of value where clipanion writes `#0`: every usage line and
 * option list (help, `help CMD`, usage errors) is made here.
 */
class QueueCli extends Cli<QueueContext> {
  protected override getUsageByIndex(n: number, opts?: { detailed?: boolean; inlineOptions?: boolean }): ReturnType<Cli<QueueContext>['getUsageByIndex']> {
    const { usage, options } = super.getUsageByIndex(n, opts);
    const command = super.getUsageByIndex(n, { detailed: false }).usage.replace(/^queuectl ?/, '');
    return { usage: withValueKinds(usage, command), options: options.map((option) => ({ ...option, definition: withValueKinds(option.definition, command) })) };
  }
}

/** Those that list or describe the others. */
const HELP_COMMANDS = [HelpCommand, Builtins.HelpCommand, Builtins.VersionCommand];

/**
 * The command line, with only the command that `argv` names when it names one: clipanion builds a
 * state machine of every registered command on each start, a sixth of a short command's run time.
 * Anything else (help, a typo, no command) gets them all, for the listing and the suggestions.
 */
export function createCli(argv: readonly string[] = []): Cli<QueueContext> {
  const cli = new QueueCli({ binaryLabel: 'queuectl', binaryName: 'queuectl', binaryVersion: VERSION, enableColors: false });
  const depth = (command: (typeof QUEUE_COMMANDS)[number]) =>
    Math.max(0, ...(command.paths ?? []).filter((path) => path.every((word, index) => argv[index] === word)).map((path) => path.length));
  const longest = Math.max(...QUEUE_COMMANDS.map(depth));
  const named = longest > 0 ? QUEUE_COMMANDS.filter((command) => depth(command) === longest) : [];
  const commands = named.length === 1 ? [...named, Builtins.HelpCommand] : [...QUEUE_COMMANDS, ...HELP_COMMANDS];
  for (const command of commands) cli.register(command);
  return cli;
}

/** Every command as typed, with its aliases: what unknown words are compared with. */
export function commandNames(): CommandName[] {
  return [...QUEUE_COMMANDS, HelpCommand].map((command) => ({ paths: command.paths ?? [], description: command.usage?.description ?? '' }));
}
