import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readHistory, tracedJob } from '../soak/history.ts';
import { snapshot } from '../support/cli.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Makes a directory read-only even for root (chmod does not stop root): a read-only bind mount
 * of the directory onto itself, or else the immutable attribute. Returns the undo, or why not.
 */
function makeReadOnly(dir: string): (() => void) | string {
  const run = (command: string, ...args: string[]) => spawnSync(command, args, { encoding: 'utf8' });
  if (run('mount', '--bind', dir, dir).status === 0) {
    if (run('mount', '-o', 'remount,ro,bind', dir).status === 0) {
      return () => {
        if (run('umount', dir).status !== 0) run('umount', '-l', dir);
      };
    }
    run('umount', dir);
  }
  const chattr = run('chattr', '+i', dir);
  if (chattr.status === 0) return () => void run('chattr', '-i', dir);
  return `neither a read-only bind mount nor chattr +i works here (${(chattr.stderr || chattr.error?.message || '').trim()})`;
}

const probe = tempDir();
const cannot = (() => {
  const undo = makeReadOnly(probe.dir);
  if (typeof undo === 'string') return undo;
  const stopsRoot = (() => {
    try {
      fs.writeFileSync(`${probe.dir}/probe`, '');
      return false;
    } catch {
      return true;
    }
  })();
  undo();
  return stopsRoot ? null : 'the read-only directory still lets root write';
})();
probe.cleanup();
if (cannot) process.stderr.write(`\nSKIPPING the read-only store tests: ${cannot}\n`);

const readonly = suite('a read-only store directory');
const test = (cannot ? readonly.skip : readonly) as typeof readonly;

/** Runs `body` with the sandbox's store read-only; always makes it writable again. */
async function withReadOnlyStore(s: Sandbox, body: () => Promise<void> | void): Promise<void> {
  const undo = makeReadOnly(s.home);
  if (typeof undo === 'string') throw new Error(undo);
  try {
    await body();
  } finally {
    undo();
  }
}

const ERROR = /^queuectl: could not \w+ \S*\.queuectl\S*: E(ROFS|PERM|ACCES): check the permissions of the store directory; nothing was changed\n$/;

function traced(s: Sandbox, id: string, seconds: number): { id: string; command: string } {
  return { id, command: tracedJob(id, { history: s.path('history.log'), locks: s.dir }, 'true', seconds) };
}

// ---

scenario(test, 'refuses every change with exit status 74 and a message that says what to check, still serves reads, and changes nothing', async (s) => {
  s.enqueue({ id: 'a', command: 'true' });
  s.ok('config', 'set', 'max-retries', '4');
  const before = snapshot(s.home);
  const spec = s.path('more.jsonl');
  fs.writeFileSync(spec, '{"id":"x","command":"true"}\n');
  await withReadOnlyStore(s, () => {
    for (const args of [['enqueue', '--id', 'b', '--', 'true'], ['enqueue', '--file', spec], ['config', 'set', 'max-retries', '5'], ['cancel', 'a']]) {
      const result = s.q(...args);
      assert.is(result.status, 74, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, ERROR, `${args.join(' ')} says what went wrong and what to check`);
      assert.is(result.stdout, '');
    }
    assert.equal(JSON.parse(s.ok('list', '--json')).map((job: { id: string }) => job.id), ['a'], 'list still works');
    assert.is(JSON.parse(s.ok('status', '--json')).counts.pending, 1, 'status still works');
    assert.is(s.ok('config', 'get', 'max-retries').trim(), '4');
    assert.equal(snapshot(s.home), before, 'every file is as it was');
  });
  s.ok('enqueue', '--id', 'b', '--', 'true');
  assert.equal(s.jobs().map((job) => job.id), ['a', 'b'], 'writable again, the store takes changes');
});

scenario(test, 'worker start refuses with exit status 74 and a clear message, and changes nothing', async (s) => {
  s.enqueue({ id: 'a', command: 'true' });
  const before = snapshot(s.home);
  await withReadOnlyStore(s, () => {
    const result = s.q('worker', 'start');
    assert.not.match(result.stderr, /internal error/, `a read-only store is not a bug:\n${result.stderr}`);
    assert.is(result.status, 74, result.stderr);
    assert.match(result.stderr, /EROFS|EPERM|EACCES/);
    assert.match(result.stderr, /check the permissions of the store directory/);
    assert.equal(snapshot(s.home), before);
  });
});

scenario(test, 'a supervisor whose store turns read-only keeps a finished job\'s result, claims nothing, and records it once the store is writable', async (s) => {
  const history = s.path('history.log');
  s.enqueue(traced(s, 'running', 1.5));
  const supervisor = await s.start(2);
  await waitFor(() => readHistory(history).runs.get('running')?.length === 1, { what: 'the job to start' });
  // Due a moment from now, while the store is read-only.
  s.ok('enqueue', '--id', 'due', '--delay', '1s', '--', tracedJob('due', { history, locks: s.dir }, 'true', 0));
  const dueAt = Date.parse(s.job('due').run_at);

  await withReadOnlyStore(s, async () => {
    const frozen = fs.readFileSync(s.path('.queuectl', 'jobs.json'), 'utf8');
    await waitFor(() => readHistory(history).runs.get('running')?.[0]?.end != null, { what: 'the job to finish' });
    await supervisor.waitLog(/cannot update the store \(will keep trying\): could not \w+ \S+: E(ROFS|PERM)/);
    await waitFor(() => Date.now() > dueAt + 1_500, { timeout: 5_000, what: 'the second job to fall due' });
    assert.is(fs.readFileSync(s.path('.queuectl', 'jobs.json'), 'utf8'), frozen, 'jobs.json is untouched');
    assert.is(s.job('running').state, 'processing', 'the result waits');
    assert.not.ok(readHistory(history).runs.has('due'), 'no job is claimed while nothing can be recorded');
    assert.ok(supervisor.running, 'the supervisor keeps running');
  });

  const running = await s.waitJob('running', (job) => job.state === 'completed', 'to be recorded as completed once writable');
  assert.is(running.attempts, 1);
  assert.is(running.recoveries, 0, 'the run was not mistaken for an interrupted one');
  assert.equal(running.history.map((entry) => entry.outcome), ['completed']);
  await s.waitJob('due', (job) => job.state === 'completed', 'to run once writable');
  const runs = readHistory(history).runs;
  assert.is(runs.get('running')?.length, 1, 'the job ran once');
  assert.is(runs.get('due')?.length, 1);
  assert.ok(supervisor.running);
});

readonly.run();
