import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CONFIG, SETTING_KEYS } from '../../src/lifecycle/config.ts';
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
  assert.equal(Object.keys(JSON.parse(text)), ['max_retries', 'backoff_base', 'job_timeout', 'no_retry_on', 'kill_grace', 'keep_finished', 'log_max_bytes', 'backoff_max', 'backoff_jitter']);
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

list('shows every setting with its value, its source and its meaning, in both forms', inTemp((cwd) => {
  accepts(['config', 'set', 'no-retry-on', '127,2'], { cwd });
  const lines = accepts(['config', 'list'], { cwd }).stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^KEY\s+VALUE\s+SOURCE\s+MEANING$/);
  assert.equal(lines.slice(1).map((line) => line.split(/\s+/)[0]), SETTING_KEYS.map((key) => key.replace(/_/g, '-')));
  assert.match(lines[1] ?? '', /^max-retries\s+3\s+config\.json\s+runs a job gets before it is dead/);
  assert.match(lines[4] ?? '', /^no-retry-on\s+2,127\s+config\.json\s+exit codes/);
  const json = JSON.parse(accepts(['config', 'list', '--json'], { cwd }).stdout);
  assert.equal(Object.keys(json), SETTING_KEYS);
  assert.equal(json.no_retry_on, { value: [2, 127], source: 'file' });
  assert.equal(json.max_retries, { value: DEFAULT_CONFIG.max_retries, source: 'file' }, 'config set writes every setting to the file');
}));

list('says for each value whether it is the default, from config.json or from the environment', inTemp((cwd) => {
  const sources = (env?: NodeJS.ProcessEnv) => {
    const json = JSON.parse(accepts(['config', 'list', '--json'], { cwd, env }).stdout) as Record<string, { value: unknown; source: string }>;
    const text = accepts(['config', 'list'], { cwd, env }).stdout.trimEnd().split('\n').slice(1);
    return { json, text: Object.fromEntries(text.map((line) => line.split(/\s{2,}/)).map(([key, value, source]) => [key, { value, source }])) };
  };
  const fresh = sources();
  assert.equal(Object.values(fresh.json).map((entry) => entry.source), SETTING_KEYS.map(() => 'default'), 'no store: every value is a default');
  assert.equal(Object.fromEntries(SETTING_KEYS.map((key) => [key, fresh.json[key]!.value])), DEFAULT_CONFIG);
  assert.equal(fresh.text['max-retries'], { value: '3', source: 'default' });
  assert.equal(tree(cwd), { files: {}, dirs: [] }, 'config list creates no store');

  fs.mkdirSync(path.join(cwd, '.queuectl'));
  fs.writeFileSync(configFile(cwd), '{ "backoff_base": 3 }\n');
  const env = { QUEUECTL_MAX_RETRIES: '5', QUEUECTL_BACKOFF_BASE: '' };
  const mixed = sources(env);
  assert.equal(mixed.json.max_retries, { value: 5, source: 'environment' });
  assert.equal(mixed.json.backoff_base, { value: 3, source: 'file' }, 'an empty variable overrides nothing');
  assert.equal(mixed.json.job_timeout, { value: 'off', source: 'default' });
  assert.equal(mixed.text['max-retries'], { value: '5', source: 'QUEUECTL_MAX_RETRIES' });
  assert.equal(mixed.text['backoff-base'], { value: '3', source: 'config.json' });
  assert.equal(mixed.text['job-timeout'], { value: 'off', source: 'default' });
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
  assert.equal([json.max_retries.value, json.backoff_base.value], [7, 3]);
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
