import { Command } from 'clipanion';

/** `queuectl help`, for those who type it instead of `--help`. */
export class HelpCommand extends Command {
  static override paths = [['help']];
  static override usage = Command.Usage({ description: 'list every command', examples: [['List the commands', '$0 help']] });

  async execute() {
    this.context.stdout.write(this.cli.usage());
  }
}
