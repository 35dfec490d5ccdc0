import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fromStored, type StoredJob } from '../../src/lifecycle/jobfile/keys.ts';
import { accepts, inTemp, readJobs, rejects, writeJobsText } from './support/fixture.ts';

const spec = suite('enqueue a JSON spec');

spec('creates a pending job with the given fields and prints its id', inTemp((cwd) => {
  const before = Date.now();
  const { stdout } = accepts(['enqueue', '{"id":"job1","command":"sleep 2","max_retries":5,"priority":7}'], { cwd });
  assert.is(stdout, 'job1\n');
  const [job, ...rest] = readJobs(cwd);
  assert.is(rest.length, 0);
  assert.is(job?.id, 'job1');
  assert.is(job?.command, 'sleep 2');
  assert.is(job?.state, 'pending');
  assert.is(job?.attempts, 0);
  assert.is(job?.max_retries, 5);
  assert.is(job?.priority, 7);
  assert.is(job?.last_error, null);
  assert.equal(job?.history, []);
  const created = Date.parse(job?.created_at ?? '');
  assert.ok(created >= before - 1000 && created <= Date.now(), 'created_at is now');
  assert.is(job?.run_at, job?.created_at, 'due at once');
}));

spec('records the directory it was enqueued from, even when the store lives elsewhere', inTemp((cwd) => {
  const sub = path.join(cwd, 'project', 'sub');
  fs.mkdirSync(sub, { recursive: true });
  accepts(['enqueue', '{"id":"here","command":"pwd"}'], { cwd: sub, env: { QUEUECTL_HOME: path.join(cwd, '.queuectl') } });
  accepts(['enqueue', '{"id":"there","command":"pwd","cwd":"project"}'], { cwd });
  const [here, there] = readJobs(cwd);
  assert.is(here?.cwd, sub);
  assert.is(there?.cwd, path.join(cwd, 'project'), 'a relative cwd in the spec is resolved from where queuectl runs');
  assert.not.ok(fs.existsSync(path.join(sub, '.queuectl')), 'QUEUECTL_HOME decides where the store is');
}));

spec('generates a distinct id when none is given', inTemp((cwd) => {
  const ids = [1, 2, 3].map(() => accepts(['enqueue', '{"command":"true"}'], { cwd }).stdout.trim());
  for (const id of ids) assert.match(id, /^[a-z0-9]{10}$/);
  assert.is(new Set(ids).size, 3);
  assert.equal(readJobs(cwd).map((job) => job.id), ids, 'the printed ids are the stored ones, in order');
}));

spec.run();

// ---

const words = suite('enqueue -- CMD ARGS');

words('runs a single word verbatim as a shell command line', inTemp((cwd) => {
  const id = accepts(['enqueue', '--', 'echo "a b" | tr a-z A-Z > out.txt && ls'], { cwd }).stdout.trim();
  const [job] = readJobs(cwd);
  assert.is(job?.id, id);
  assert.is(job?.command, 'echo "a b" | tr a-z A-Z > out.txt && ls');
}));

words('quotes several words so that sh gets exactly those words back', inTemp((cwd) => {
  const args = ['printf', '%s|', 'a b', "it's", '$HOME', '*', ''];
  accepts(['enqueue', '--id', 'echo', '--', 'echo', 'a b'], { cwd });
  accepts(['enqueue', '--id', 'tricky', '--', ...args], { cwd });
  const [echo, tricky] = readJobs(cwd);
  assert.is(echo?.command, "echo 'a b'");
  const ran = spawnSync('sh', ['-c', tricky?.command ?? ''], { cwd, encoding: 'utf8' });
  assert.is(ran.stdout, 'a b|it\'s|$HOME|*||', `sh -c ${tricky?.command}`);
}));

words('takes every option flag onto the job', inTemp((cwd) => {
  const result = accepts(['enqueue', '--id', 'flags', '--max-retries', '5', '--priority=-3', '--delay', '10s', '--timeout', '5m', '--no-retry-on', '127,2', '--', 'true'], { cwd });
  assert.is(result.stdout, 'flags\n');
  const [job] = readJobs(cwd);
  assert.is(job?.max_retries, 5);
  assert.is(job?.priority, -3);
  assert.is(job?.timeout, '5m');
  assert.equal(job?.no_retry_on, [2, 127]);
  assert.is(Date.parse(job?.run_at ?? '') - Date.parse(job?.created_at ?? ''), 10_000, '--delay 10s: due ten seconds after creation');
}));

words('--run-at sets the due time, in UTC', inTemp((cwd) => {
  accepts(['enqueue', '--run-at', '2030-01-01T09:00:00+02:00', '--', 'true'], { cwd });
  assert.is(readJobs(cwd)[0]?.run_at, '2030-01-01T07:00:00.000Z');
}));

words('refuses a JSON spec and a command after -- together, and writes nothing', inTemp((cwd) => {
  const both = rejects(['enqueue', '{"id":"y","command":"true"}', '--', 'echo', 'also'], { cwd }, { status: 2, message: /give a JSON spec or a command after --, not both/ });
  assert.not.match(both.stderr, /127/);
  rejects(['enqueue', '{"id":"y","command":"true"}', '--', 'echo also'], { cwd }, { status: 2, message: /not both/ });
  rejects(['enqueue', 'echo', '--', 'also'], { cwd }, { status: 2, message: /put the whole command after --, as in: queuectl enqueue -- echo also/ });
  assert.not.ok(fs.existsSync(path.join(cwd, '.queuectl')), 'no store was created');
  accepts(['enqueue', '--id', 'y', '--', 'git', 'diff', '--', 'file'], { cwd });
  assert.is(readJobs(cwd)[0]?.command, 'git diff -- file', 'a -- inside the command is the command\'s own');
}));

words.run();

// ---

const runs = suite('max_retries counts runs');

runs('refuses 0 in the JSON spec, --max-retries and a --file line: a job gets at least one run', inTemp((cwd) => {
  const message = /max_retries: a job gets at least one run: max_retries counts runs \(3 means three runs\), so it must be from 1 to 1000, got 0\n/;
  rejects(['enqueue', '{"id":"z","command":"true","max_retries":0}'], { cwd }, { status: 2, message });
  rejects(['enqueue', '--max-retries', '0', '--', 'true'], { cwd }, { status: 2, message: /max_retries: a job gets at least one run.*got "0"/ });
  rejects(['enqueue', '--file', '-'], { cwd, input: '{"command":"true","max_retries":0}\n' }, { status: 2, message: /stdin line 1: max_retries: a job gets at least one run/ });
}));

runs('--max-retries 1 is one run, kept on the job', inTemp((cwd) => {
  accepts(['enqueue', '--max-retries', '1', '--', 'true'], { cwd });
  assert.is(readJobs(cwd)[0]?.max_retries, 1);
}));

runs('refuses QUEUECTL_MAX_RETRIES=0 and config set max-retries 0', inTemp((cwd) => {
  rejects(['enqueue', '--', 'true'], { cwd, env: { QUEUECTL_MAX_RETRIES: '0' } }, { status: 2, message: /QUEUECTL_MAX_RETRIES: invalid value for max_retries: a job gets at least one run/ });
  rejects(['config', 'set', 'max-retries', '0'], { cwd }, { status: 2, message: /invalid value for max_retries: a job gets at least one run/ });
}));

runs('refuses a hand-edited config.json or jobs.json with 0, naming the file, the job and the field', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  fs.writeFileSync(path.join(cwd, '.queuectl', 'config.json'), '{"max_retries": 0}\n');
  rejects(['enqueue', '--', 'true'], { cwd }, { status: 2, message: /\.queuectl\/config\.json: invalid value for max_retries: a job gets at least one run/ });
  fs.rmSync(path.join(cwd, '.queuectl', 'config.json'));
  writeJobsText(cwd, '{"version": 1, "jobs": [{"id": "hand", "command": "true", "max_retries": 0}]}\n');
  rejects(['list'], { cwd }, { status: 2, message: /jobs\.json: job "hand" \(#1\): field "max_retries": a job gets at least one run/ });
}));

runs('says runs in --help and in the config description', inTemp((cwd) => {
  assert.match(accepts(['enqueue', '--help'], { cwd }).stdout, /--max-retries N\s+runs the job gets before it is dead, at least 1/);
  assert.match(accepts(['config', 'list'], { cwd }).stdout, /max-retries .*runs a job gets before it is dead, at least 1/);
}));

runs.run();

// ---

const env = suite('enqueue --env and "env"');

env('stores the variables on the job, from --env or the JSON spec, in name order', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'flags', '--env', 'STAGE=prod', '--env', 'A_URL=http://x/?a=b', '--env', 'EMPTY=', '--', 'true'], { cwd });
  accepts(['enqueue', '{"id":"spec","command":"true","env":{"Z":"last","B":"two words"}}'], { cwd });
  accepts(['enqueue', '--id', 'none', '--', 'true'], { cwd });
  const [flags, spec, none] = readJobs(cwd);
  assert.equal(flags?.env, { A_URL: 'http://x/?a=b', EMPTY: '', STAGE: 'prod' });
  assert.equal(Object.keys(flags?.env ?? {}), ['A_URL', 'EMPTY', 'STAGE']);
  assert.equal(spec?.env, { B: 'two words', Z: 'last' });
  assert.equal(none?.env, {});
  const text = fs.readFileSync(path.join(cwd, '.queuectl', 'jobs.json'), 'utf8');
  assert.match(text, /"cwd": "[^"]+",\n      "env": \{\n        "A_URL": "http:\/\/x\/\?a=b",\n        "EMPTY": "",\n        "STAGE": "prod"\n      \},\n      "created_at"/, 'env follows cwd in the fixed key order');
}));

env('refuses bad names, non-string values and QUEUECTL_* names, writing nothing', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'old', '--', 'true'], { cwd });
  rejects(['enqueue', '--env', '1X=a', '--', 'true'], { cwd }, { status: 2, message: /env: invalid variable name "1X": use letters, digits and _/ });
  rejects(['enqueue', '--env', 'A-B=a', '--', 'true'], { cwd }, { status: 2, message: /invalid variable name "A-B"/ });
  rejects(['enqueue', '--env', 'NOVALUE', '--', 'true'], { cwd }, { status: 2, message: /--env takes KEY=VALUE, got "NOVALUE"/ });
  rejects(['enqueue', '--env', 'A=1', '--env', 'A=2', '--', 'true'], { cwd }, { status: 2, message: /--env A is given twice/ });
  rejects(['enqueue', '--env', 'QUEUECTL_HOME=/tmp', '--', 'true'], { cwd }, { status: 2, message: /QUEUECTL_HOME: QUEUECTL_\* variables are set by queuectl itself/ });
  rejects(['enqueue', '{"command":"true","env":{"N":3}}'], { cwd }, { status: 2, message: /env: the value of N must be a string, got 3/ });
  rejects(['enqueue', '{"command":"true","env":["A=1"]}'], { cwd }, { status: 2, message: /env: expected an object of names and string values/ });
  rejects(['enqueue', '--env', 'A=1', '{"command":"true"}'], { cwd }, { status: 2, message: /give options inside the JSON spec/ });
  assert.equal(readJobs(cwd).map((job) => job.id), ['old']);
}));

env('keeps the store private: jobs.json holding env values is 0600 in a 0700 directory, and a widened file stays widened', inTemp((cwd) => {
  const mode = (...parts: string[]) => fs.statSync(path.join(cwd, '.queuectl', ...parts)).mode & 0o777;
  accepts(['enqueue', '--env', 'TOKEN=s3cret', '--', 'true'], { cwd });
  accepts(['config', 'set', 'max-retries', '2'], { cwd });
  assert.is(mode(), 0o700);
  assert.is(mode('jobs.json'), 0o600);
  assert.is(mode('config.json'), 0o600);
  fs.chmodSync(path.join(cwd, '.queuectl', 'jobs.json'), 0o640);
  accepts(['enqueue', '--', 'true'], { cwd });
  assert.is(mode('jobs.json'), 0o640, 'a rewrite keeps the mode the file had');
}));

env('show lists the variables, quoted for the shell', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'e', '--env', 'STAGE=prod', '--env', 'GREETING=hello world', '--', 'true'], { cwd });
  assert.match(accepts(['show', 'e'], { cwd }).stdout, /^env:\s+'GREETING=hello world' STAGE=prod$/m);
  accepts(['enqueue', '--id', 'plain', '--', 'true'], { cwd });
  assert.match(accepts(['show', 'plain'], { cwd }).stdout, /^env:\s+-$/m);
}));

env.run();

// ---

const file = suite('enqueue --file');

file('adds one job per JSON line, skipping blank lines, and prints their ids', inTemp((cwd) => {
  fs.writeFileSync(path.join(cwd, 'jobs.jsonl'), '{"id":"a","command":"echo a"}\n\n{"id":"b","command":"echo b","priority":2}\n');
  assert.is(accepts(['enqueue', '--file', 'jobs.jsonl'], { cwd }).stdout, 'a\nb\n');
  const jobs = readJobs(cwd);
  assert.equal(jobs.map((job) => [job.id, job.command, job.priority, job.state]), [['a', 'echo a', 0, 'pending'], ['b', 'echo b', 2, 'pending']]);
}));

file('reads stdin for -, and flags are defaults for every line', inTemp((cwd) => {
  const input = '{"id":"c","command":"true"}\n{"id":"d","command":"true","max_retries":1}';
  const { stdout } = accepts(['enqueue', '--file', '-', '--max-retries', '9', '--json'], { cwd, input });
  const printed = JSON.parse(stdout) as { id: string; max_retries: number }[];
  assert.equal(printed.map((job) => [job.id, job.max_retries]), [['c', 9], ['d', 1]]);
  assert.equal(readJobs(cwd).map((job) => fromStored(job as StoredJob)), printed, '--json prints the jobs as stored, with every field');
}));

file('adds nothing when one line is bad, and names that line', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'old', '--', 'true'], { cwd });
  fs.writeFileSync(path.join(cwd, 'jobs.jsonl'), '{"id":"a","command":"true"}\n{"id":"b","command":"true","max_retries":-2}\n');
  rejects(['enqueue', '--file', 'jobs.jsonl'], { cwd }, { status: 2, message: /jobs\.jsonl line 2: max_retries: expected a whole number of runs/ });
  rejects(['enqueue', '--file', '-'], { cwd, input: '{"id":"a","command":"true"}\n\n{oops\n' }, { status: 2, message: /stdin line 3: invalid JSON/ });
  rejects(['enqueue', '--file', '-'], { cwd, input: '{"id":"a","command":"true"}\n{"id":"old","command":"true"}\n' }, { status: 4, message: /stdin line 2: a job with id "old" already exists/ });
  rejects(['enqueue', '--file', '-'], { cwd, input: '{"id":"a","command":"true"}\n{"id":"a","command":"true"}\n' }, { status: 4, message: /stdin line 2: id "a" is also on stdin line 1/ });
  rejects(['enqueue', '--file', '-'], { cwd, input: '\n\n' }, { status: 2, message: /stdin holds no job specs/ });
  rejects(['enqueue', '--file', 'missing.jsonl'], { cwd }, { status: 2, message: /cannot read missing\.jsonl: no such file/ });
  assert.equal(readJobs(cwd).map((job) => job.id), ['old']);
}));

file.run();

// ---

const json = suite('enqueue --json');

json('prints exactly one JSON document, the job as stored, and nothing else', inTemp((cwd) => {
  const { stdout } = accepts(['enqueue', '--json', '--id', 'j', '--', 'echo', 'hi'], { cwd });
  assert.ok(stdout.endsWith('}\n'));
  const printed = JSON.parse(stdout);
  assert.equal(printed, fromStored(readJobs(cwd)[0] as StoredJob));
  assert.equal([printed.queue, printed.after, printed.schedule], ['default', [], null], 'the workflow fields are there at their defaults');
  assert.is(printed.command, 'echo hi');
}));

json.run();

// ---

const defaults = suite('enqueue defaults');

defaults('max_retries comes from config, and QUEUECTL_MAX_RETRIES overrides it', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'builtin', '--', 'true'], { cwd });
  accepts(['config', 'set', 'max-retries', '5'], { cwd });
  accepts(['enqueue', '--id', 'configured', '--', 'true'], { cwd });
  accepts(['enqueue', '--id', 'env', '--', 'true'], { cwd, env: { QUEUECTL_MAX_RETRIES: '7' } });
  accepts(['enqueue', '--id', 'explicit', '--max-retries', '1', '--', 'true'], { cwd, env: { QUEUECTL_MAX_RETRIES: '7' } });
  assert.equal(readJobs(cwd).map((job) => [job.id, job.max_retries]), [['builtin', 3], ['configured', 5], ['env', 7], ['explicit', 1]]);
}));

defaults('priority 0, no timeout, no exit codes exempt from retry', inTemp((cwd) => {
  accepts(['enqueue', '--', 'true'], { cwd });
  const [job] = readJobs(cwd);
  assert.is(job?.priority, 0);
  assert.is(job?.timeout, null);
  assert.equal(job?.no_retry_on, []);
}));

defaults.run();
