import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { accepts, CREATED, inTemp, rejects, tree } from './support/fixture.ts';

/** Every command, with arguments that get it as far as the store. */
const EVERY: string[][] = [
  ['enqueue', '--', 'true'],
  ['enqueue', '--file', '-'],
  ['list'],
  ['list', '--json'],
  ['show', 'a'],
  ['logs', 'a'],
  ['wait', 'a'],
  ['cancel', 'a'],
  ['clean'],
  ['status'],
  ['status', '--json'],
  ['worker', 'start'],
  ['worker', 'stop'],
  ['dlq', 'list'],
  ['dlq', 'retry', 'a'],
  ['dlq', 'purge'],
  ['config', 'get', 'max-retries'],
  ['config', 'set', 'max-retries', '2'],
  ['config', 'list'],
];

/** Those that change the store, and so must create it. */
const WRITES = EVERY.filter(([command, sub]) => ['enqueue', 'cancel', 'clean'].includes(command!) || ['start', 'retry', 'purge', 'set'].includes(sub!));

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const INPUT = '{"command":"true"}\n';

/** Refused with exit 74 and exactly one line on stderr, within a few seconds. */
function refusesStore(args: string[], cwd: string, env: NodeJS.ProcessEnv, message: RegExp): void {
  const result = rejects(args, { cwd, env, input: INPUT, timeout: 20_000 }, { status: 74, message });
  assert.is(result.stderr.split('\n').length, 2, `${args.join(' ')}: one line:\n${result.stderr}`);
}

// ---

const notDir = suite('a store path that is not a directory');

notDir('QUEUECTL_HOME naming a file: every command refuses with exit 74, naming the file', inTemp((cwd) => {
  fs.writeFileSync(path.join(cwd, 'store'), 'not a queue\n');
  const message = new RegExp(`^queuectl: the store ${escape(cwd)}/store is a file, not a directory; move that file away, or point QUEUECTL_HOME at a directory\\n$`);
  for (const args of EVERY) refusesStore(args, cwd, { QUEUECTL_HOME: 'store' }, message);
}));

notDir('QUEUECTL_HOME through a file: refused with exit 74, naming the file in the way', inTemp((cwd) => {
  fs.writeFileSync(path.join(cwd, 'store'), 'not a queue\n');
  const message = new RegExp(`^queuectl: the store ${escape(cwd)}/store/queue is inside ${escape(cwd)}/store, which is a file, not a directory; `);
  for (const args of [['enqueue', '--', 'true'], ['list'], ['status'], ['config', 'set', 'max-retries', '2'], ['worker', 'start'], ['worker', 'stop']]) {
    refusesStore(args, cwd, { QUEUECTL_HOME: 'store/queue' }, message);
  }
}));

notDir('a file named .queuectl here or in a directory above: refused with exit 74, never a store further up', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, 'project', 'src'), { recursive: true });
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  fs.writeFileSync(path.join(cwd, 'project', '.queuectl'), '');
  const message = new RegExp(`^queuectl: the store ${escape(cwd)}/project/\\.queuectl is a file, not a directory; `);
  for (const args of EVERY) refusesStore(args, path.join(cwd, 'project', 'src'), {}, message);
  for (const args of [['enqueue', '--', 'true'], ['status'], ['worker', 'start']]) refusesStore(args, path.join(cwd, 'project'), {}, message);
  assert.equal(fs.readdirSync(path.join(cwd, '.queuectl')), [], 'the store further up is left alone');
}));

notDir('a place where no directory can be made (/proc): changes refused at once with exit 74; reads find no queue', inTemp((cwd) => {
  for (const home of ['/proc/queuectl-test', '/proc/queuectl-test/a/b']) {
    const message = new RegExp(`^queuectl: cannot create the store ${escape(home)}: ENOENT: no directory can be made there; point QUEUECTL_HOME at a directory you can write\\n$`);
    for (const args of WRITES) refusesStore(args, cwd, { QUEUECTL_HOME: home }, message);
  }
  for (const args of EVERY.filter((args) => !WRITES.includes(args))) {
    const result = queuectl(args, { cwd, env: { QUEUECTL_HOME: '/proc/queuectl-test' }, timeout: 20_000 });
    assert.ok(result.status === 0 || result.status === 3, `${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    assert.not.match(result.stderr, /internal error|\n\s+at /);
  }
  assert.is(accepts(['list'], { cwd, env: { QUEUECTL_HOME: '/proc/queuectl-test' } }).stdout, 'no jobs\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

notDir.run();

// ---

const found = suite('finding the store');

found('commands in a subdirectory use the nearest .queuectl above and create none of their own', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'top', '--', 'true'], { cwd });
  const deep = path.join(cwd, 'src', 'lib');
  fs.mkdirSync(deep, { recursive: true });
  const result = accepts(['enqueue', '--id', 'deep', '--', 'true'], { cwd: deep });
  assert.is(result.stderr, '', 'no new store, nothing said');
  assert.equal(tree(path.join(cwd, 'src')), { files: {}, dirs: ['lib'] });
  const jobs = JSON.parse(accepts(['list', '--json'], { cwd: deep }).stdout) as { id: string; cwd: string }[];
  assert.equal(jobs.map((job) => [job.id, job.cwd]), [['top', cwd], ['deep', deep]], 'a job still runs where it was enqueued');
  assert.is(JSON.parse(accepts(['status', '--json'], { cwd: deep }).stdout).store, path.join(cwd, '.queuectl'));
  accepts(['config', 'set', 'max-retries', '5'], { cwd: deep });
  assert.is(accepts(['config', 'get', 'max-retries'], { cwd }).stdout, '5\n');
}));

found('QUEUECTL_HOME wins over a store found above', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'here', '--', 'true'], { cwd });
  fs.mkdirSync(path.join(cwd, 'sub'));
  const env = { QUEUECTL_HOME: path.join(cwd, 'other') };
  accepts(['enqueue', '--id', 'there', '--', 'true'], { cwd: path.join(cwd, 'sub'), env });
  assert.equal(JSON.parse(accepts(['list', '--json'], { cwd, env }).stdout).map((job: { id: string }) => job.id), ['there']);
  assert.equal(JSON.parse(accepts(['list', '--json'], { cwd: path.join(cwd, 'sub') }).stdout).map((job: { id: string }) => job.id), ['here']);
}));

found('a change that creates a store says where, once, on stderr', inTemp((cwd) => {
  const first = accepts(['enqueue', '--id', 'a', '--json', '--', 'true'], { cwd });
  assert.is(first.stderr, `queuectl: created a new queue in ${cwd}/.queuectl\n`);
  assert.is(JSON.parse(first.stdout).id, 'a', '--json output stays one document on stdout');
  assert.is(accepts(['enqueue', '--id', 'b', '--', 'true'], { cwd }).stderr, '');
  const set = accepts(['config', 'set', 'backoff-base', '3'], { cwd, env: { QUEUECTL_HOME: 'state/queue' } });
  assert.is(set.stderr, `queuectl: created a new queue in ${cwd}/state/queue\n`);
  assert.match(set.stderr, CREATED);
}));

found('reads on no store create nothing; status names the store it reads, or would create', inTemp((cwd) => {
  for (const args of EVERY.filter((args) => !WRITES.includes(args) && args[0] !== 'worker')) queuectl(args, { cwd });
  assert.equal(tree(cwd), { files: {}, dirs: [] });
  const store = path.join(cwd, '.queuectl');
  assert.match(accepts(['status'], { cwd }).stdout, new RegExp(`^store: ${escape(store)} \\(none yet: the first change creates it\\)$`, 'm'));
  assert.is(JSON.parse(accepts(['status', '--json'], { cwd }).stdout).store, store);
  accepts(['enqueue', '--', 'true'], { cwd });
  assert.match(accepts(['status'], { cwd }).stdout, new RegExp(`^store: ${escape(store)}$`, 'm'));
}));

found('a refused change leaves no trace, not even the directories it made on the way', inTemp((cwd) => {
  const env = { QUEUECTL_HOME: 'a/b/queue' };
  const refused = rejects(['dlq', 'retry', 'ghost'], { cwd, env }, { status: 3, message: /^queuectl: no job with id "ghost"/ });
  assert.not.match(refused.stderr, /created/);
  rejects(['cancel', 'ghost'], { cwd }, { status: 3, message: /^queuectl: no job with id "ghost"/ });
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

found.run();

// ---

const ceiling = suite('store discovery stops at a ceiling directory');

/** The store `status` says it reads, from `cwd`. */
const storeOf = (cwd: string, env: NodeJS.ProcessEnv) => /^store: (\S*)/m.exec(accepts(['status'], { cwd, env }).stdout)?.[1];

ceiling('QUEUECTL_CEILING_DIRECTORIES: no .queuectl is looked for in a ceiling or above it, unless it is where you are', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  const deep = path.join(cwd, 'a', 'b');
  fs.mkdirSync(deep, { recursive: true });
  const env = { TMPDIR: '/nonexistent-tmp', HOME: '/nonexistent-home/user' };
  assert.is(storeOf(deep, env), path.join(cwd, '.queuectl'), 'no ceiling in the way: found upwards');
  assert.is(storeOf(deep, { ...env, QUEUECTL_CEILING_DIRECTORIES: `/elsewhere:${cwd}` }), path.join(deep, '.queuectl'), 'the ceiling is not searched');
  assert.is(storeOf(deep, { ...env, QUEUECTL_CEILING_DIRECTORIES: path.join(cwd, 'a') }), path.join(deep, '.queuectl'));
  assert.is(storeOf(cwd, { ...env, QUEUECTL_CEILING_DIRECTORIES: cwd }), path.join(cwd, '.queuectl'), 'standing in the ceiling finds its store');
  assert.is(storeOf(deep, { ...env, QUEUECTL_CEILING_DIRECTORIES: 'relative/dir' }), path.join(cwd, '.queuectl'), 'a relative entry is ignored, as git does');
}));

ceiling('by default a stray .queuectl in the temp directory or beside the home directories is not picked up', inTemp((cwd) => {
  fs.mkdirSync(path.join(cwd, '.queuectl'));
  const project = path.join(cwd, 'work', 'project');
  const home = path.join(cwd, 'alice');
  fs.mkdirSync(project, { recursive: true });
  fs.mkdirSync(path.join(home, 'repo'), { recursive: true });
  assert.is(storeOf(project, { TMPDIR: cwd, HOME: '/nonexistent-home/user' }), path.join(project, '.queuectl'), 'the temp directory is a ceiling');
  assert.is(storeOf(path.join(home, 'repo'), { TMPDIR: '/nonexistent-tmp', HOME: home }), path.join(home, 'repo', '.queuectl'), 'the parent of HOME is a ceiling');
  assert.is(storeOf(project, { TMPDIR: cwd, QUEUECTL_CEILING_DIRECTORIES: '' }), path.join(cwd, '.queuectl'), 'an empty list: no ceiling at all');
  assert.equal(fs.readdirSync(path.join(cwd, '.queuectl')), [], 'the stray store was not touched');
}));

ceiling.run();
