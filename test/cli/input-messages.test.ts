import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accepts, inTemp, rejects, writeJobsText } from './support/fixture.ts';

const negative = suite('a negative value reaches its option');

negative('--delay, --timeout and --priority judge a negative value themselves, with or without =', inTemp((cwd) => {
  for (const form of [['--delay', '-5m'], ['--delay=-5m']]) {
    rejects(['enqueue', ...form, '--', 'true'], { cwd }, { status: 2, message: /^queuectl: delay: invalid duration "-5m": must be more than 0/ });
  }
  rejects(['enqueue', '--timeout', '-30s', '--', 'true'], { cwd }, { status: 2, message: /^queuectl: timeout: invalid duration "-30s": must be more than 0/ });
  rejects(['enqueue', '--priority', '-1e3', '--', 'true'], { cwd }, { status: 2, message: /^queuectl: priority must be a whole number from -1000000 to 1000000, got "-1e3"/ });
  rejects(['config', 'set', 'job-timeout', '-5m'], { cwd }, { status: 2, message: /invalid duration "-5m": must be more than 0/ });
}));

negative('a zero duration is said to be zero, not a missing unit', inTemp((cwd) => {
  rejects(['enqueue', '--timeout', '0s', '--', 'true'], { cwd }, { status: 2, message: /^queuectl: timeout: invalid duration "0s": must be more than 0, such as 500ms, 10s or 5m\n$/ });
}));

negative.run();

// ---

const cut = suite('messages say all of it');

cut('a whole number out of range in jobs.json names both bounds', inTemp((cwd) => {
  writeJobsText(cwd, '{"version": 1, "jobs": [{"id": "a", "command": "true", "state": "pending", "priority": 2000000}]}\n');
  rejects(['list'], { cwd }, { status: 2, message: /priority.*expected a whole number from -1000000 to 1000000, got 2000000/ });
}));

cut('import of an empty or broken file advises on the file, not on the store', inTemp((cwd) => {
  fs.writeFileSync(path.join(cwd, 'empty.json'), '');
  fs.writeFileSync(path.join(cwd, 'broken.json'), '{"version": 1,\n');
  fs.writeFileSync(path.join(cwd, 'invalid.json'), '{"version": 1, "jobs": [{"id": "x"}]}\n');
  rejects(['import', 'empty.json'], { cwd }, { status: 2, message: /^queuectl: empty.json is empty: nothing to import; give a file printed by queuectl export/ });
  for (const file of ['broken.json', 'invalid.json']) {
    const { stderr } = rejects(['import', file], { cwd }, { status: 2, message: /nothing was imported: check the file, or print it again with queuectl export\n$/ });
    assert.not.match(stderr, /git|delete it/, `${file}: no advice meant for the store's own jobs.json`);
  }
}));

cut('--after with no job id is refused', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'build', '--', 'true'], { cwd });
  for (const value of ['', ' , ']) {
    rejects(['enqueue', '--after', value, '--', 'true'], { cwd }, { status: 2, message: /^queuectl: after needs one or more job ids, such as --after build,lint/ });
  }
}));

cut.run();
