import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl as run } from '../support/cli.ts';
import { tempDir as temp } from '../support/tmp.ts';
import { accepts, inTemp, tree } from './support/fixture.ts';

const COMMANDS = [
  'enqueue', 'list', 'show', 'logs', 'wait', 'cancel', 'clean', 'status',
  'worker start', 'worker stop',
  'dlq list', 'dlq retry', 'dlq purge',
  'config get', 'config set', 'config list',
];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---

const help = suite('--help');

help('lists every command with its description, and touches nothing', inTemp((cwd) => {
  const { stdout } = accepts(['--help'], { cwd });
  for (const command of COMMANDS) {
    assert.match(stdout, new RegExp(`^  queuectl ${escape(command)}\\b.*\\n    \\S`, 'm'), `--help lists ${command} with a description`);
  }
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

help('is what a bare queuectl prints', inTemp((cwd) => {
  assert.is(accepts([], { cwd }).stdout, accepts(['--help'], { cwd }).stdout);
}));

for (const command of COMMANDS) {
  help(`of ${command} shows its usage, options and examples`, inTemp((cwd) => {
    const { stdout } = accepts([...command.split(' '), '--help'], { cwd });
    assert.match(stdout, /^[A-Z]/, 'starts with the description');
    assert.match(stdout, new RegExp(`^Usage\\n\\n\\$ queuectl ${escape(command)}\\b`, 'm'));
    const examples = stdout.split(/^Examples$/m)[1];
    assert.ok(examples, `${command} --help has an Examples section`);
    assert.match(examples, new RegExp(`^  \\$ queuectl ${escape(command)}\\b`, 'm'), 'an example runs the command itself');
    assert.equal(tree(cwd), { files: {}, dirs: [] }, 'help creates no store');
  }));
}

help.run();

// ---

const words = suite('argument words');

words('takes a negative number after an option as its value', () => {
  const { dir, cleanup } = temp();
  try {
    assert.is(run(['enqueue', '--id', 'low', '--priority', '-5', '--', 'true'], { cwd: dir }).status, 0);
    const listed = JSON.parse(run(['list', '--json'], { cwd: dir }).stdout) as { priority: number }[];
    assert.is(listed[0]?.priority, -5);
    const refused = run(['config', 'set', 'max-retries', '-1'], { cwd: dir });
    assert.is(refused.status, 2);
    assert.match(refused.stderr, /max_retries: expected a whole number of runs from 1 to 1000, got "-1"/);
  } finally {
    cleanup();
  }
});

words('lists the commands for `queuectl help`', () => {
  const { dir, cleanup } = temp();
  try {
    const result = run(['help'], { cwd: dir });
    assert.is(result.status, 0);
    assert.match(result.stdout, /queuectl worker start/);
  } finally {
    cleanup();
  }
});

words.run();
