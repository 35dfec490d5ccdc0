import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { job } from '../support/factory.ts';
import { deadJob, inTemp, jobsFile, readJobs, rejects, tree, writeJobs, writeJobsText } from './support/fixture.ts';

const INVALID = 2;
const NOT_FOUND = 3;
const CONFLICT = 4;

type Case = [what: string, args: string[], status: number, message: RegExp, env?: NodeJS.ProcessEnv, input?: string];

// ---

const fresh = suite('bad input as the first command');

const FIRST: Case[] = [
  ['invalid JSON', ['enqueue', '{"id":"a","command":'], INVALID, /job spec: invalid JSON/],
  ['a command that is not a JSON spec, without --', ['enqueue', '[ -f x ]'], INVALID, /put the command after --, as in: queuectl enqueue -- '\[ -f x \]'/],
  ['an unknown key', ['enqueue', '{"command":"true","retries":3}'], INVALID, /unknown key "retries" in job spec; known keys: id, command, max_retries/],
  ['a negative max_retries', ['enqueue', '{"command":"true","max_retries":-1}'], INVALID, /max_retries: expected a whole number of runs from 1 to 1000, got -1/],
  ['a fractional max_retries', ['enqueue', '{"command":"true","max_retries":1.5}'], INVALID, /max_retries: expected a whole number of runs from 1 to 1000, got 1\.5/],
  ['a non-numeric --max-retries', ['enqueue', '--max-retries', 'many', '--', 'true'], INVALID, /max_retries: expected a whole number of runs from 1 to 1000, got "many"/],
  ['a spec without a command', ['enqueue', '{"id":"a"}'], INVALID, /a job needs a "command"/],
  ['a blank command', ['enqueue', '{"command":"   "}'], INVALID, /a job needs a "command"/],
  ['nothing to enqueue', ['enqueue'], INVALID, /nothing to enqueue: give a JSON spec, or a command after --/],
  ['a JSON line that is not an object', ['enqueue', '--file', '-'], INVALID, /stdin line 1: a job spec must be a JSON object/, undefined, '["true"]\n'],
  ['a command without --', ['enqueue', 'sleep', '2'], INVALID, /put the command after --, as in: queuectl enqueue -- sleep 2/],
  ['a shell line without --, with a hint quoted for pasting', ['enqueue', 'sleep 2 && echo hi'], INVALID, /put the command after --, as in: queuectl enqueue -- 'sleep 2 && echo hi'\n/],
  ['a bad id', ['enqueue', '--id', 'a b', '--', 'true'], INVALID, /invalid id "a b": use letters, digits/],
  ['an id starting with a dash', ['enqueue', '{"id":"-x","command":"true"}'], INVALID, /invalid id "-x"/],
  ['a duration without a unit', ['enqueue', '--delay', '10', '--', 'true'], INVALID, /delay: invalid duration "10": use a number with a unit/],
  ['a zero timeout', ['enqueue', '--timeout', '0s', '--', 'true'], INVALID, /timeout: invalid duration "0s"/],
  ['a run_at that is not a time', ['enqueue', '--run-at', 'tomorrow', '--', 'true'], INVALID, /run_at must be an ISO 8601 time such as 2030-01-01T09:00:00Z, got "tomorrow"/],
  ['a run_at on a day that does not exist', ['enqueue', '--run-at', '2030-02-30', '--', 'true'], INVALID, /run_at must be an ISO 8601 time .*got "2030-02-30"/],
  ['both run_at and delay', ['enqueue', '{"command":"true","run_at":"2030-01-01T00:00:00Z","delay":"5s"}'], INVALID, /give run_at or delay, not both/],
  ['an exit code out of range', ['enqueue', '--no-retry-on', '300', '--', 'true'], INVALID, /no_retry_on: expected a whole number from 1 to 255, got "300"/],
  ['flags beside a JSON spec', ['enqueue', '--priority', '3', '{"command":"true"}'], INVALID, /give options inside the JSON spec/],
  ['an unknown state', ['list', '--state', 'done'], INVALID, /unknown state "done"; expected one of pending, processing, completed, failed, dead, cancelled/],
  ['a zero --limit', ['list', '--limit', '0'], INVALID, /--limit must be a whole number of at least 1, got "0"/],
  ['a non-numeric --limit', ['list', '--limit', 'ten'], INVALID, /--limit must be a whole number of at least 1, got "ten"/],
  ['dlq retry of a missing id', ['dlq', 'retry', 'ghost'], NOT_FOUND, /no job with id "ghost"/],
  ['dlq retry without ids or --all', ['dlq', 'retry'], INVALID, /give the ids of dead jobs to retry, or --all/],
  ['dlq retry with ids and --all', ['dlq', 'retry', '--all', 'a'], INVALID, /give the ids of dead jobs to retry, or --all/],
  ['a bad --older-than', ['dlq', 'purge', '--older-than', 'a week'], INVALID, /--older-than: invalid duration "a week"/],
  ['an unknown config key', ['config', 'get', 'retries'], INVALID, /unknown config key "retries"; known keys: max-retries, backoff-base/],
  ['config set of an unknown key', ['config', 'set', 'colour', 'blue'], INVALID, /unknown config key "colour"/],
  ['a negative max-retries', ['config', 'set', 'max-retries', '--', '-1'], INVALID, /invalid value for max_retries: expected a whole number of runs from 1 to 1000, got "-1"/],
  ['a fractional max-retries', ['config', 'set', 'max_retries', '2.5'], INVALID, /invalid value for max_retries: .*got "2\.5"/],
  ['a backoff base of 0', ['config', 'set', 'backoff-base', '0'], INVALID, /invalid value for backoff_base: expected a number from 1 to 3600, got "0"/],
  ['a garbage backoff base', ['config', 'set', 'backoff_base', 'fast'], INVALID, /invalid value for backoff_base: .*got "fast"/],
  ['an invalid QUEUECTL_MAX_RETRIES', ['enqueue', '--', 'true'], INVALID, /QUEUECTL_MAX_RETRIES: invalid value for max_retries: .*got "lots"/, { QUEUECTL_MAX_RETRIES: 'lots' }],
  ['an unknown command', ['frobnicate'], INVALID, /Command not found/],
  ['an unknown option', ['list', '--sort', 'id'], INVALID, /Unsupported option name \("--sort"\)/],
  ['an unknown option to enqueue', ['enqueue', '--retries', '3', '--', 'true'], INVALID, /Unsupported option name \("--retries"\)/],
  ['a missing argument', ['config', 'get'], INVALID, /Not enough positional arguments/],
  ['an extra argument', ['status', 'now'], INVALID, /Extraneous positional argument \("now"\)/],
  ['an option without its value', ['list', '--state'], INVALID, /Not enough arguments to option --state/],
];

for (const [what, args, status, message, env, input] of FIRST) {
  fresh(`refuses ${what} without creating the store`, inTemp((cwd) => {
    rejects(args, { cwd, env, input }, { status, message });
  }));
}

fresh.run();

// ---

const existing = suite('bad input against an existing store');

const seed = (cwd: string) => writeJobs(cwd, [job({ id: 'p1', cwd }), deadJob('d1', 60_000, { cwd })]);

const AGAINST: Case[] = [
  ['a duplicate id from a flag', ['enqueue', '--id', 'p1', '--', 'true'], CONFLICT, /a job with id "p1" already exists \(pending\); choose another id/],
  ['a duplicate id in a JSON spec', ['enqueue', '{"id":"d1","command":"true"}'], CONFLICT, /a job with id "d1" already exists \(dead\)/],
  ['dlq retry of a job that is not dead', ['dlq', 'retry', 'p1'], CONFLICT, /job "p1" is pending, not dead; only dead jobs can be retried/],
  ['dlq retry of a missing id', ['dlq', 'retry', 'ghost'], NOT_FOUND, /no job with id "ghost"/],
  ['dlq retry of a dead and a missing id', ['dlq', 'retry', 'd1', 'ghost'], NOT_FOUND, /no job with id "ghost"/],
  ['an invalid value in config set', ['config', 'set', 'max-retries', 'none'], INVALID, /invalid value for max_retries/],
  ['an unknown state', ['list', '--state', 'Pending'], INVALID, /unknown state "Pending"/],
];

for (const [what, args, status, message, env] of AGAINST) {
  existing(`refuses ${what} and changes nothing`, inTemp((cwd) => {
    seed(cwd);
    rejects(args, { cwd, env }, { status, message });
  }));
}

existing.run();

// ---

const malformed = suite('a malformed hand-edited jobs.json');

const valid = (cwd: string) => ({ version: 1, jobs: [job({ id: 'a', cwd }), deadJob('b', 60_000, { cwd })] });

/** The line after the first job's `"history": [],`: where JSON.parse meets the `}` it did not expect. */
const braceLine = (text: string) => text.split('\n').findIndex((line) => line.endsWith('"history": [],')) + 2;

const DAMAGE: [what: string, edit: (cwd: string) => string, message: (text: string) => RegExp][] = [
  ['a syntax error', (cwd) => `${JSON.stringify(valid(cwd), null, 2).replace('"history": []', '"history": [],')}\n`, (text) => new RegExp(`\\.queuectl/jobs\\.json is not valid JSON \\(line ${braceLine(text)}, column 5\\): .*fix it by hand or restore it from git`)],
  ['an unknown state', (cwd) => JSON.stringify({ ...valid(cwd), jobs: [job({ id: 'a', cwd }), { ...deadJob('b'), state: 'zombie' }] }), () => /\.queuectl\/jobs\.json: job "b" \(#2\): field "state": unknown value "zombie"; expected one of pending/],
  ['a job without a command', (cwd) => JSON.stringify({ ...valid(cwd), jobs: [job({ id: 'a', cwd }), { id: 'b', state: 'pending' }] }), () => /\.queuectl\/jobs\.json: job "b" \(#2\): missing field "command"/],
  ['a duplicate id', (cwd) => JSON.stringify({ ...valid(cwd), jobs: [job({ id: 'a', cwd }), job({ id: 'a', cwd })] }), () => /\.queuectl\/jobs\.json: job "a" \(#2\): duplicate id "a"/],
];

const READERS = [
  ['list'], ['list', '--json'], ['status'], ['status', '--json'],
  ['dlq', 'list'], ['dlq', 'list', '--json'], ['dlq', 'retry', 'b'], ['dlq', 'retry', '--all'], ['dlq', 'purge'],
  ['enqueue', '--', 'true'], ['enqueue', '{"id":"new","command":"true"}'],
  ['show', 'a'], ['logs', 'a'], ['wait', '--timeout', '1s', 'a'],
];
// Each kind of damage is parsed by the same code: a few readers and a writer show it per kind.
const SOME_READERS = [['list', '--json'], ['status'], ['dlq', 'retry', '--all'], ['enqueue', '--', 'true']];

for (const [index, [what, edit, message]] of DAMAGE.entries()) {
  const readers = index === 0 ? READERS : SOME_READERS;
  malformed(`with ${what}: ${readers.length} commands name file, job and field, and leave every file as it was`, inTemp((cwd) => {
    const text = edit(cwd);
    writeJobsText(cwd, text);
    for (const args of readers) rejects(args, { cwd }, { status: INVALID, message: message(text) });
  }));
}

malformed('is refused by cancel and clean too, which leave jobs.json byte-identical', inTemp((cwd) => {
  const text = DAMAGE[1]![1](cwd);
  writeJobsText(cwd, text);
  for (const args of [['cancel', 'a'], ['clean']]) {
    const result = queuectl(args, { cwd });
    assert.is(result.status, INVALID, `${args.join(' ')}: ${result.stderr}`);
    assert.is(result.stdout, '');
    assert.match(result.stderr, DAMAGE[1]![2](text));
    assert.is(fs.readFileSync(jobsFile(cwd), 'utf8'), text);
  }
}));

malformed('is refused by cancel and clean without adding any file', inTemp((cwd) => {
  writeJobsText(cwd, DAMAGE[1]![1](cwd));
  for (const args of [['cancel', 'a'], ['clean']]) rejects(args, { cwd }, { status: INVALID, message: DAMAGE[1]![2]('') });
}));

malformed('leaves no store behind when a first command is refused', inTemp((cwd) => {
  rejects(['cancel', 'ghost'], { cwd }, { status: 3, message: /no job with id "ghost"/ });
  rejects(['dlq', 'retry', 'ghost'], { cwd }, { status: 3, message: /no job with id "ghost"/ });
}));

malformed('that is empty is refused with a way out', inTemp((cwd) => {
  writeJobsText(cwd, '');
  rejects(['list'], { cwd }, { status: INVALID, message: /\.queuectl\/jobs\.json is empty .*delete it to start an empty queue/ });
}));

malformed.run();

// ---

const usage = suite('usage errors');

usage('go to stderr with the usage line, never to stdout', inTemp((cwd) => {
  const result = rejects(['list', '--bogus'], { cwd }, { status: INVALID, message: /Unsupported option name/ });
  assert.match(result.stderr, /\$ queuectl list \[--state/);
  const unknown = rejects(['stauts'], { cwd }, { status: INVALID, message: /Command not found; did you mean one of/ });
  assert.match(unknown.stderr, /queuectl status/);
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

usage('a rejected command leaves a store that later commands read as before', inTemp((cwd) => {
  seed(cwd);
  const before = fs.readFileSync(jobsFile(cwd), 'utf8');
  rejects(['enqueue', '--id', 'p1', '--', 'true'], { cwd }, { status: CONFLICT, message: /already exists/ });
  assert.is(fs.readFileSync(jobsFile(cwd), 'utf8'), before);
  assert.equal(readJobs(cwd).map((entry) => entry.id), ['p1', 'd1']);
}));

usage.run();
