import { Builtins, Cli } from 'clipanion';
import type { QueueContext } from './commands/base.ts';
import { ConfigGetCommand } from './commands/config/get.ts';
import { ConfigListCommand } from './commands/config/list.ts';
import { ConfigSetCommand } from './commands/config/set.ts';
import { DlqListCommand } from './commands/dlq/list.ts';
import { DlqPurgeCommand } from './commands/dlq/purge.ts';
import { DlqRetryCommand } from './commands/dlq/retry.ts';
import { EnqueueCommand } from './commands/enqueue.ts';
import { HelpCommand } from './commands/help.ts';
import { ListCommand } from './commands/list.ts';
import { CancelCommand } from './commands/cancel.ts';
import { CleanCommand } from './commands/clean.ts';
import { LogsCommand } from './commands/logs.ts';
import { ShowCommand } from './commands/show.ts';
import { StatusCommand } from './commands/status.ts';
import { WaitCommand } from './commands/wait.ts';
import { WorkerStartCommand } from './commands/worker/start.ts';
import { WorkerStopCommand } from './commands/worker/stop.ts';

export const VERSION = '0.1.0';

export function createCli(): Cli<QueueContext> {
  const cli = new Cli<QueueContext>({ binaryLabel: 'queuectl', binaryName: 'queuectl', binaryVersion: VERSION, enableColors: false });
  for (const command of [
    EnqueueCommand,
    ListCommand,
    ShowCommand,
    LogsCommand,
    WaitCommand,
    CancelCommand,
    CleanCommand,
    StatusCommand,
    WorkerStartCommand,
    WorkerStopCommand,
    DlqListCommand,
    DlqRetryCommand,
    DlqPurgeCommand,
    ConfigGetCommand,
    ConfigSetCommand,
    ConfigListCommand,
    HelpCommand,
    Builtins.HelpCommand,
    Builtins.VersionCommand,
  ]) {
    cli.register(command);
  }
  return cli;
}
