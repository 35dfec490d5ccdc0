import { Command, type BaseContext } from 'clipanion';
import { QueueError } from '../../lifecycle/error.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/store.ts';

export interface QueueContext extends BaseContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => Date;
  /** The words after `queuectl`, as typed: clipanion does not say whether `--` was given. */
  argv: readonly string[];
}

/**
 * Every command runs through here: expected failures (QueueError) become one line on stderr
 * and their exit status; anything else is a bug and reports its stack with status 1.
 */
export abstract class QueueCommand extends Command<QueueContext> {
  abstract run(): Promise<number | void>;

  override async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (error) {
      if (error instanceof QueueError) {
        this.context.stderr.write(`queuectl: ${error.message}\n`);
        return error.exitStatus;
      }
      this.context.stderr.write(`queuectl: internal error (a bug; please report it):\n${(error as Error)?.stack ?? String(error)}\n`);
      return 1;
    } finally {
      // A database connection would otherwise keep the process alive.
      await this.found?.close();
    }
  }

  private found?: Store;

  /** The store this command works on, chosen once; a path that cannot be a store is refused here. */
  get store(): Store {
    if (this.found) return this.found;
    const created = (dir: string) => this.context.stderr.write(`queuectl: created a new queue in ${dir}\n`);
    return (this.found = openStore({ env: this.context.env, cwd: this.context.cwd, now: this.context.now, created }));
  }

  out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}
