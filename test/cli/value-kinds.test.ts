import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl as run } from '../support/cli.ts';
import { accepts, inTemp } from './support/fixture.ts';

/** Every command `queuectl --help` lists, as typed: `enqueue`, `worker start`. */
function listedCommands(cwd: string): string[] {
  const { stdout } = accepts(['--help'], { cwd });
  return [...stdout.matchAll(/^ {2}queuectl ([a-z]+(?: [a-z]+)?)(?= \[| <| \.\.\.|$)/gm)].map((match) => match[1]!);
}

/** The option lines of a command's help: `--delay DURATION    do not start ...`. */
function optionLines(help: string): string[] {
  const section = help.split(/^Options$/m)[1]?.split(/^Details$|^Examples$/m)[0] ?? '';
  return section.split('\n').filter((line) => line.startsWith('  -'));
}

const kinds = suite('value kinds in help');

kinds('queuectl --help shows no #0 and names each value', inTemp((cwd) => {
  const { stdout } = accepts(['--help'], { cwd });
  assert.not.match(stdout, /#\d/);
  assert.match(stdout, /queuectl enqueue \[--id ID\] .*\[--priority N\] .*\[--delay DURATION\]/);
  assert.match(stdout, /queuectl list \[--state,-s STATE\[,STATE\]\]/);
  assert.match(stdout, /^ {2}queuectl queue pause \[NAME\.\.\.\]$/m, 'the words after the options say what they are');
  assert.match(stdout, /^ {2}queuectl enqueue .* \[SPEC \| -- COMMAND \[ARG\.\.\.\]\]$/m);
}));

kinds('every command --help and help CMD shows the kind of each option value', inTemp((cwd) => {
  const commands = listedCommands(cwd);
  assert.ok(commands.length >= 25, `--help lists the commands (${commands.join(', ')})`);
  for (const command of commands) {
    const words = command.split(' ');
    const help = accepts([...words, '--help'], { cwd }).stdout;
    assert.not.match(help, /#\d/, `${command} --help has no #0`);
    assert.not.match(help, /(?<![=\w])VALUE\b/, `${command} --help names every kind of value`);
    assert.is(accepts(['help', ...words], { cwd }).stdout, help, `help ${command} is ${command} --help`);
    for (const line of optionLines(help)) {
      const [names = '', value] = line.trim().split(/\s+/);
      if (value === undefined || /^[a-z]/.test(value)) continue; // a flag: its description follows
      assert.match(value, /^[A-Z][A-Z=[\],]*$/, `${command} ${names} shows its kind of value`);
    }
  }
}));

kinds('a few options say what they take', inTemp((cwd) => {
  const enqueue = accepts(['enqueue', '--help'], { cwd }).stdout;
  assert.match(enqueue, /^ {2}--delay DURATION +do not start/m);
  assert.match(enqueue, /^ {2}--priority N +higher runs first/m);
  assert.match(enqueue, /^ {2}--env KEY=VALUE +a variable/m);
  assert.match(accepts(['list', '--help'], { cwd }).stdout, /^ {2}--state,-s STATE\[,STATE\] +only jobs/m);
  assert.match(accepts(['clean', '--help'], { cwd }).stdout, /^ {2}--state STATE +only finished jobs/m);
}));

kinds('usage errors show no #0', inTemp((cwd) => {
  for (const args of [['enqueue', '--delay'], ['list', 'extra'], ['list', '--bogus'], ['wait', '--timeout'], ['queue', 'set'], ['enquee'], ['worker']]) {
    const result = run(args, { cwd });
    assert.is(result.status, 2, `queuectl ${args.join(' ')}: ${result.stderr}`);
    assert.not.match(result.stderr, /#\d/, `queuectl ${args.join(' ')}: ${result.stderr}`);
    assert.is(result.stdout, '');
  }
}));

kinds.run();
