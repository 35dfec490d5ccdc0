#!/usr/bin/env node
/** The composition root: real argv, environment and clock go in; an exit status comes out. */
import { createCli } from './cli.ts';
import type { QueueContext } from './commands/base.ts';

async function main(argv: string[]): Promise<number> {
  const cli = createCli();
  const context: QueueContext = {
    // process.stdin is created on first access, which costs start-up time: only `enqueue -` reads it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    colorDepth: 1,
    cwd: process.cwd(),
    now: () => new Date(),
    argv,
  };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (error) {
    // clipanion would print usage errors on stdout with status 1; they belong on stderr, status 2.
    process.stderr.write(cli.error(error as Error, { colored: false }));
    return 2;
  }
  return cli.run(command, context);
}

process.exitCode = await main(process.argv.slice(2));
