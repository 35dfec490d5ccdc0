import { Command } from 'clipanion';

/** `queuectl help`, for those who type it instead of `--help`; main.ts turns `help enqueue` into `enqueue --help`. */
export class HelpCommand extends Command {
  static override paths = [['help']];
  static override usage = Command.Usage({
    description: 'list every command; `help COMMAND` shows the help of one',
    examples: [
      ['List the commands', '$0 help'],
      ['Show the options and examples of one command', '$0 help enqueue'],
      ['List the subcommands of worker', '$0 help worker'],
    ],
  });

  async execute() {
    this.context.stdout.write(this.cli.usage());
  }
}
