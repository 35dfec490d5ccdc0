import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CONFIG, SETTING_KEYS } from '../../src/config.ts';
import { queuectl } from '../support/cli.ts';
import { accepts, inTemp, rejects, tree } from './support/fixture.ts';

const configFile = (cwd: string) => path.join(cwd, '.queuectl', 'config.json');
const get = (cwd: string, key: string, env?: NodeJS.ProcessEnv) => accepts(['config', 'get', key], { cwd, env }).stdout;

// ---

const getSet = suite('config get and set');

getSet('get prints the defaults without creating a store', inTemp((cwd) => {
  assert.is(get(cwd, 'max-retries'), '3\n');
  assert.is(get(cwd, 'backoff_base'), '2\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

getSet('set changes a setting under either spelling, and get reads it under either', inTemp((cwd) => {
  assert.is(accepts(['config', 'set', 'max-retries', '5'], { cwd }).stdout, 'max-retries = 5\n');
  assert.is(accepts(['config', 'set', 'backoff_base', '1.5'], { cwd }).stdout, 'backoff-base = 1.5\n');
  assert.equal([get(cwd, 'max_retries'), get(cwd, 'backoff-base')], ['5\n', '1.5\n']);
}));

getSet('writes config.json as two-space JSON with a trailing newline, keys in table order', inTemp((cwd) => {
  accepts(['config', 'set', 'backoff-base', '3'], { cwd });
  accepts(['config', 'set', 'max-retries', '1'], { cwd });
  const text = fs.readFileSync(configFile(cwd), 'utf8');
  const expected = { ...DEFAULT_CONFIG, backoff_base: 3, max_retries: 1 };
  assert.is(text, `${JSON.stringify(Object.fromEntries(SETTING_KEYS.map((key) => [key, expected[key]])), null, 2)}\n`);
  assert.equal(Object.keys(JSON.parse(text)), ['max_retries', 'backoff_base', 'job_timeout', 'no_retry_on', 'kill_grace', 'keep_finished', 'log_max_bytes']);
}));

getSet('set rewrites a hand-edited config.json in the same canonical form', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  fs.writeFileSync(configFile(cwd), '{"backoff_base": 4, "max_retries": 2}');
  assert.is(get(cwd, 'backoff-base'), '4\n');
  accepts(['config', 'set', 'max-retries', '6'], { cwd });
  const text = fs.readFileSync(configFile(cwd), 'utf8');
  assert.ok(text.startsWith('{\n  "max_retries": 6,\n  "backoff_base": 4,\n'), text);
  assert.ok(text.endsWith('}\n'));
}));

getSet('refuses a hand-edited config.json with an unknown setting, naming file and setting', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  fs.writeFileSync(configFile(cwd), '{"max_retries": 2, "colour": "blue"}\n');
  const message = /\.queuectl\/config\.json: unknown setting "colour"/;
  rejects(['config', 'get', 'max-retries'], { cwd }, { status: 2, message });
  rejects(['config', 'set', 'max-retries', '4'], { cwd }, { status: 2, message });
  rejects(['enqueue', '--', 'true'], { cwd }, { status: 2, message });
}));

getSet.run();

// ---

const list = suite('config list');

list('shows every setting with its value and meaning, in both forms', inTemp((cwd) => {
  accepts(['config', 'set', 'no-retry-on', '127,2'], { cwd });
  const lines = accepts(['config', 'list'], { cwd }).stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^KEY\s+VALUE\s+MEANING$/);
  assert.equal(lines.slice(1).map((line) => line.split(/\s+/)[0]), SETTING_KEYS.map((key) => key.replace(/_/g, '-')));
  assert.match(lines[1] ?? '', /^max-retries\s+3\s+runs a job gets before it is dead/);
  assert.match(lines[4] ?? '', /^no-retry-on\s+2,127\s+exit codes/);
  const json = JSON.parse(accepts(['config', 'list', '--json'], { cwd }).stdout);
  assert.equal(json, { ...DEFAULT_CONFIG, no_retry_on: [2, 127] });
}));

list.run();

// ---

const env = suite('environment overrides');

env('QUEUECTL_MAX_RETRIES and QUEUECTL_BACKOFF_BASE override config.json for get and list', inTemp((cwd) => {
  accepts(['config', 'set', 'max-retries', '5'], { cwd });
  const overrides = { QUEUECTL_MAX_RETRIES: '7', QUEUECTL_BACKOFF_BASE: '3' };
  assert.is(get(cwd, 'max-retries', overrides), '7\n');
  assert.is(get(cwd, 'backoff_base', overrides), '3\n');
  const json = JSON.parse(accepts(['config', 'list', '--json'], { cwd, env: overrides }).stdout);
  assert.equal([json.max_retries, json.backoff_base], [7, 3]);
  assert.is(get(cwd, 'max-retries'), '5\n', 'the file is unchanged');
}));

env('set notes on stderr that the environment overrides the new value', inTemp((cwd) => {
  const result = queuectl(['config', 'set', 'max-retries', '4'], { cwd, env: { QUEUECTL_MAX_RETRIES: '7' } });
  assert.is(result.status, 0);
  assert.is(result.stdout, 'max-retries = 4\n');
  assert.match(result.stderr, /QUEUECTL_MAX_RETRIES=7 overrides this setting/);
  assert.is(JSON.parse(fs.readFileSync(configFile(cwd), 'utf8')).max_retries, 4);
}));

env('an invalid value in the environment is a clear error for every command', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'a', '--', 'true'], { cwd });
  rejects(['config', 'get', 'backoff-base'], { cwd, env: { QUEUECTL_BACKOFF_BASE: '0' } }, { status: 2, message: /QUEUECTL_BACKOFF_BASE: invalid value for backoff_base: expected a number from 1 to 3600, got "0"/ });
  rejects(['list'], { cwd, env: { QUEUECTL_MAX_RETRIES: '-1' } }, { status: 2, message: /QUEUECTL_MAX_RETRIES: invalid value for max_retries: .*got "-1"/ });
  rejects(['config', 'list', '--json'], { cwd, env: { QUEUECTL_BACKOFF_BASE: 'fast' } }, { status: 2, message: /QUEUECTL_BACKOFF_BASE: .*got "fast"/ });
}));

env('QUEUECTL_HOME chooses the store directory, relative to where queuectl runs', inTemp((cwd) => {
  const home = { QUEUECTL_HOME: 'state/queue' };
  accepts(['enqueue', '--id', 'elsewhere', '--', 'true'], { cwd, env: home });
  accepts(['config', 'set', 'max-retries', '2'], { cwd, env: home });
  assert.ok(fs.existsSync(path.join(cwd, 'state', 'queue', 'jobs.json')));
  assert.ok(fs.existsSync(path.join(cwd, 'state', 'queue', 'config.json')));
  assert.not.ok(fs.existsSync(path.join(cwd, '.queuectl')), 'no store in the default place');
  assert.equal(JSON.parse(accepts(['list', '--json'], { cwd, env: home }).stdout).map((job: { id: string }) => job.id), ['elsewhere']);
  assert.is(accepts(['list', '--json'], { cwd }).stdout, '[]\n', 'without it, the default store is used');
  const absolute = { QUEUECTL_HOME: path.join(cwd, 'state', 'queue') };
  fs.mkdirSync(path.join(cwd, 'sub'));
  assert.is(get(path.join(cwd, 'sub'), 'max-retries', absolute), '2\n');
  assert.equal(tree(path.join(cwd, 'sub')), { files: {}, dirs: [] }, 'an absolute QUEUECTL_HOME works from any directory');
}));

env.run();
