import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueError } from '../src/lifecycle/error.ts';
import { FileStore } from '../src/store/file/file-store.ts';
import { acquireLock, LOCK_STALE_MS } from '../src/store/file/lock.ts';
import { appendJob, preciseNow, spawnWorker, stop, storeContext } from './support/store-context.ts';
import { tempDir } from './support/tmp.ts';
import { waitFor } from './support/wait.ts';

/** Makes a lock directory look as if its holder stopped refreshing it a minute ago. */
function backdate(lockDir: string): void {
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(lockDir, past, past);
}

const ids = (dir: string): string[] => new FileStore(storeContext(dir)).jobsFile.read().jobs.map((job) => job.id);
const staged = (dir: string): boolean => fs.readdirSync(dir).some((name) => name.startsWith('jobs.json.next.'));

// ---

const stale = suite('stale locks');

stale('a lock left by a SIGKILLed holder is reclaimed within seconds', async () => {
  const { dir, cleanup } = tempDir();
  const holder = spawnWorker(['hold', dir]);
  try {
    await waitFor(() => holder.stdout().includes('held'), { timeout: 15_000, what: 'the holder to take the lock' });
    holder.child.kill('SIGKILL');
    assert.equal(await holder.exited, { code: null, signal: 'SIGKILL' });
    assert.ok(fs.existsSync(path.join(dir, 'lock')), 'the killed holder left its lock directory');

    const started = Date.now();
    await appendJob(storeContext(dir), 'after-crash');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < LOCK_STALE_MS + 3_000, `took ${elapsed}ms`);
    assert.equal(ids(dir), ['after-crash']);
  } finally {
    await stop(holder);
    cleanup();
  }
});

stale('a lock directory whose mtime is past the stale limit is taken over at once', async () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.mkdirSync(path.join(dir, 'lock'), { recursive: true });
    backdate(path.join(dir, 'lock'));
    const started = Date.now();
    await appendJob(storeContext(dir), 'a');
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started}ms`);
    assert.equal(ids(dir), ['a']);
    assert.not.ok(fs.existsSync(path.join(dir, 'lock')), 'the lock is released');
  } finally {
    cleanup();
  }
});

stale('a takeover mutex left by a process killed mid-takeover is reclaimed within seconds', async () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.mkdirSync(path.join(dir, 'lock'), { recursive: true });
    backdate(path.join(dir, 'lock'));
    fs.mkdirSync(path.join(dir, 'lock.takeover'));
    const started = Date.now();
    await appendJob(storeContext(dir, { QUEUECTL_LOCK_TIMEOUT_MS: '10000' }), 'a');
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started}ms`);
    assert.equal(ids(dir), ['a']);
    assert.equal(fs.readdirSync(dir).sort(), ['.gitignore', 'jobs.json']);
  } finally {
    cleanup();
  }
});

stale('a lock that a live process keeps fresh reads as busy (exit status 75)', async () => {
  const { dir, cleanup } = tempDir();
  const holder = spawnWorker(['hold', dir]);
  try {
    await waitFor(() => holder.stdout().includes('held'), { timeout: 15_000, what: 'the holder to take the lock' });
    const error = await appendJob(storeContext(dir, { QUEUECTL_LOCK_TIMEOUT_MS: '1500' }), 'a').catch((thrown: unknown) => thrown);
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'busy');
    assert.is((error as QueueError).exitStatus, 75);
    assert.match((error as QueueError).message, path.join(dir, 'lock'));
  } finally {
    await stop(holder);
    cleanup();
  }
});

stale.run();

// ---

const race = suite('stale-lock takeover race');

const CONTENDERS = 8;
const TRIALS = 20;
const HOLD_MS = 50;

interface Hold {
  trial: number;
  pid: number;
  start: number;
  end: number;
}

race(`${CONTENDERS} processes released at once at a stale lock never hold it together (${TRIALS} trials)`, async () => {
  const { dir, cleanup } = tempDir();
  const go = path.join(dir, 'go');
  fs.mkdirSync(path.join(dir, 'store'));
  const workers = Array.from({ length: CONTENDERS }, () => spawnWorker(['race', path.join(dir, 'store'), go, String(TRIALS), String(HOLD_MS)]));
  const holds = (): Hold[] => workers.flatMap((worker) => worker.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Hold));
  try {
    await waitFor(() => workers.every((worker) => worker.stdout().includes('ready')), { timeout: 30_000, what: 'the contenders to start' });
    const overlaps: string[] = [];
    for (let trial = 1; trial <= TRIALS; trial++) {
      const lockDir = path.join(dir, 'store', 'lock');
      fs.mkdirSync(lockDir);
      backdate(lockDir);
      fs.writeFileSync(`${go}.tmp`, String(preciseNow() + 40));
      fs.renameSync(`${go}.tmp`, `${go}.${trial}`);
      const done = await waitFor(() => {
        const these = holds().filter((hold) => hold.trial === trial);
        return these.length === CONTENDERS ? these : null;
      }, { timeout: 15_000, what: `trial ${trial}: ${workers.map((worker) => worker.stderr()).join('')}` });
      done.sort((a, b) => a.start - b.start);
      for (let i = 1; i < done.length; i++) {
        const [before, after] = [done[i - 1] as Hold, done[i] as Hold];
        if (after.start < before.end) overlaps.push(`trial ${trial}: pid ${after.pid} took the lock ${(before.end - after.start).toFixed(1)}ms before pid ${before.pid} let go`);
      }
    }
    assert.equal(overlaps, []);
    assert.is(holds().length, CONTENDERS * TRIALS);
  } finally {
    await Promise.all(workers.map(stop));
    cleanup();
  }
});

race.run();

// ---

const compromise = suite('a lock taken from its holder');

compromise('is reported through compromised(), never as a crash from the update timer', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ctx = storeContext(dir);
    const lock = await acquireLock(ctx.home.jobs, ctx.home.lock, { timeoutMs: 1_000 });
    assert.ok(lock.held());
    fs.rmdirSync(ctx.home.lock);
    fs.mkdirSync(ctx.home.lock);
    assert.not.ok(lock.held(), 'a replaced lock directory is no longer ours');
    // proper-lockfile notices on its next refresh, a second later; by default it throws there.
    const reason = await waitFor(() => lock.compromised(), { timeout: 5_000, what: 'the update timer to notice' });
    assert.match(reason.message, /Unable to update lock|ENOENT/);
    await lock.release();
    assert.ok(fs.existsSync(ctx.home.lock), 'release leaves the new lock directory alone');
  } finally {
    cleanup();
  }
});

compromise('a stalled holder that wakes up leaves its successor\'s lock alone and commits after it', async () => {
  const { dir, cleanup } = tempDir();
  const ctx = storeContext(dir);
  // The holder stalls synchronously, timers and all, after staging its commit.
  const stalled = spawnWorker(['add', dir, 'stalled'], 'before-rename=sleep:1500');
  try {
    await waitFor(() => staged(ctx.home.dir), { timeout: 15_000, what: 'the holder to stage its commit' });
    backdate(ctx.home.lock);
    const successor = await acquireLock(ctx.home.jobs, ctx.home.lock, { timeoutMs: 2_000 });
    const ino = fs.statSync(ctx.home.lock).ino;
    // The stalled holder wakes, finds its lock gone and drops its staged commit.
    await waitFor(() => !staged(ctx.home.dir), { timeout: 10_000, what: 'the stalled holder to wake up' });
    const finishedEarly = await waitFor(() => stalled.stdout().includes('done'), { timeout: 1_000 }).then(() => true, () => false);
    assert.not.ok(finishedEarly, 'the stalled holder waits for the successor');
    assert.ok(successor.held(), 'the successor still holds its lock');
    assert.is(fs.statSync(ctx.home.lock).ino, ino, 'the successor\'s lock directory is untouched');
    assert.not.ok(fs.existsSync(ctx.home.jobs), 'nothing was committed under the lost lock');
    await successor.release();
    assert.equal(await stalled.exited, { code: 0, signal: null }, stalled.stderr());
    assert.equal(ids(dir), ['stalled']);
  } finally {
    await stop(stalled);
    cleanup();
  }
});

compromise.run();
