import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, jobsFile, readJobs, rejects, tree, writeJobs, writeJobsText } from './support/fixture.ts';

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
  ['an unknown command', ['frobnicate'], INVALID, /^queuectl: unknown command "frobnicate"; queuectl help lists every command\n$/],
  ['an unknown option', ['list', '--sort', 'id'], INVALID, /^queuectl: list has no option --sort; its options are --state, --recent, --limit, --json\n$/],
  ['an unknown option to enqueue', ['enqueue', '--retries', '3', '--', 'true'], INVALID, /^queuectl: enqueue has no option --retries; did you mean --max-retries\?\n$/],
  ['a missing argument', ['config', 'get'], INVALID, /^queuectl: config get is missing an argument; usage: queuectl config get <key>\n$/],
  ['an extra argument', ['status', 'now'], INVALID, /^queuectl: status does not take "now"; usage: queuectl status \[options\]\n$/],
  ['an option without its value', ['list', '--state'], INVALID, /^queuectl: --state needs a value, such as --state pending; see queuectl list --help\n$/],
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

usage('an unknown command suggests at most three close names, in one line on stderr', inTemp((cwd) => {
  const cases: [string[], RegExp][] = [
    [['stauts'], /^queuectl: unknown command "stauts"; did you mean status\?\n$/],
    [['lsit', '--json'], /^queuectl: unknown command "lsit"; did you mean list\?\n$/],
    [['wrker', 'start'], /^queuectl: unknown command "wrker"; did you mean worker start\?\n$/],
    [['wroker'], /^queuectl: unknown command "wroker"; did you mean worker start, worker stop\?\n$/],
    [['worker', 'strat'], /^queuectl: unknown command "worker strat"; did you mean worker start\?\n$/],
    [['dlq', 'retyr', 'a'], /^queuectl: unknown command "dlq retyr"; did you mean dlq retry\?\n$/],
    [['confg'], /^queuectl: unknown command "confg"; did you mean config get, config set, config list\?\n$/],
    [['worker', 'pause'], /^queuectl: unknown command "worker pause"; worker has worker start, worker stop\n$/],
    [['--frob'], /^queuectl: unknown option --frob; queuectl help lists every command\n$/],
  ];
  for (const [args, message] of cases) {
    const result = rejects(args, { cwd }, { status: INVALID, message });
    assert.not.match(result.stderr, /#0|\$ queuectl|^\s+\d+\./m, 'no usage dump with placeholders');
  }
}));

usage('an option without its value names the option and a sample of the value', inTemp((cwd) => {
  const cases: [string[], RegExp][] = [
    [['enqueue', '--delay'], /^queuectl: --delay needs a value, such as --delay 10m; see queuectl enqueue --help\n$/],
    [['enqueue', '--id', 'x', '--no-retry-on'], /^queuectl: --no-retry-on needs a value, such as --no-retry-on 2,126,127; see queuectl enqueue --help\n$/],
    [['list', '-n'], /^queuectl: -n needs a value, such as -n 10; see queuectl list --help\n$/],
    [['worker', 'start', '--count'], /^queuectl: --count needs a value, such as --count 3; see queuectl worker start --help\n$/],
    [['enqueue', '--priority'], /^queuectl: --priority needs a value: higher runs first \(default 0\); see queuectl enqueue --help\n$/],
  ];
  for (const [args, message] of cases) rejects(args, { cwd }, { status: INVALID, message });
}));

usage('a command group alone lists its subcommands with what they do, on stderr with status 2', inTemp((cwd) => {
  const groups: Record<string, string[]> = { worker: ['start', 'stop'], dlq: ['list', 'retry', 'purge'], config: ['get', 'set', 'list'] };
  for (const [group, subcommands] of Object.entries(groups)) {
    const result = rejects([group], { cwd }, { status: INVALID, message: new RegExp(`^queuectl: ${group} needs a subcommand:\n`) });
    const lines = result.stderr.trimEnd().split('\n').slice(1);
    assert.equal(lines.map((line) => line.trim().split(/\s+/).slice(0, 3).join(' ')), subcommands.map((sub) => `queuectl ${group} ${sub}`));
    for (const line of lines) assert.match(line, /^  queuectl \S+ \S+\s+\w/, 'each with its description');
    const help = accepts([group, '--help'], { cwd });
    assert.match(help.stdout, new RegExp(`^Usage: queuectl ${group} <subcommand>`), `${group} --help lists them on stdout, status 0`);
    assert.ok(lines.every((line) => help.stdout.includes(line)));
  }
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

usage('help COMMAND prints that command\'s help; help of an unknown one is refused', inTemp((cwd) => {
  assert.is(accepts(['help', 'enqueue'], { cwd }).stdout, accepts(['enqueue', '--help'], { cwd }).stdout);
  assert.is(accepts(['help', 'worker', 'start'], { cwd }).stdout, accepts(['worker', 'start', '--help'], { cwd }).stdout);
  assert.is(accepts(['help', 'worker'], { cwd }).stdout, accepts(['worker', '--help'], { cwd }).stdout);
  rejects(['help', 'stauts'], { cwd }, { status: INVALID, message: /^queuectl: unknown command "stauts"; did you mean status\?\n$/ });
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
