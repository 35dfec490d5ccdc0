/** The composition root: real argv, environment and clock go in; an exit status comes out. */
import { commandNames, createCli } from './cli/cli.ts';
import { clockFrom } from './lifecycle/clock.ts';
import type { QueueContext } from './cli/commands/base.ts';
import { directStderr, directStdout } from './cli/output.ts';
import { explainParseError, groupListing, isGroup } from './cli/usage.ts';

/**
 * clipanion reads `-5` as an option name, and then `--delay` as missing its value. A negative
 * value (`-5`, `-1e3`, `-5m`) right after a long option becomes `--option=-5m`, so the option's
 * own check says what is wrong with it; after `config set KEY` it is the value, so `--` goes before it.
 */
export function protectNegativeNumbers(argv: readonly string[]): string[] {
  const negative = /^-\.?\d/;
  const out: string[] = [];
  argv.forEach((word, index) => {
    const previous = out.at(-1);
    if (negative.test(word) && previous?.startsWith('--') && !previous.includes('=') && previous !== '--') out[out.length - 1] = `${previous}=${word}`;
    else if (negative.test(word) && argv[0] === 'config' && argv[1] === 'set' && index === 3 && !out.includes('--')) out.push('--', word);
    else out.push(word);
  });
  return out;
}

/** `queuectl help enqueue` is `queuectl enqueue --help`. */
export function helpAsOption(argv: readonly string[]): string[] {
  return argv[0] === 'help' && argv[1] !== undefined && !argv[1].startsWith('-') ? [...argv.slice(1), '--help'] : [...argv];
}

async function main(rawArgv: string[]): Promise<number> {
  const argv = protectNegativeNumbers(helpAsOption(rawArgv));
  if (argv.length === 2 && (argv[1] === '--help' || argv[1] === '-h') && isGroup(argv[0], commandNames())) {
    directStdout.write(`Usage: queuectl ${argv[0]} <subcommand>; each one's --help says more\n\n${groupListing(argv[0]!, commandNames())}`);
    return 0;
  }
  const cli = createCli(argv);
  const context: QueueContext = {
    // process.stdin is created on first access, which costs start-up time: only `enqueue -` reads it.
    get stdin() {
      return process.stdin;
    },
    stdout: directStdout,
    stderr: directStderr,
    env: process.env,
    colorDepth: 1,
    cwd: process.cwd(),
    now: clockFrom(process.env),
    argv,
  };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (error) {
    // clipanion would print usage errors on stdout with status 1; they belong on stderr, status 2.
    directStderr.write(`queuectl: ${explainParseError(error as Error, argv, commandNames(), cli.definitions())}\n`);
    return 2;
  }
  return cli.run(command, context);
}

/** Settles with the exit status once the command has run (the code cache warm-up waits for it). */
export const done = main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  return code;
});
