import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FenceError, replaceFile } from '../src/store/file/atomic.ts';
import { QueueError } from '../src/lifecycle/error.ts';
import { serializeJobs } from '../src/lifecycle/jobfile/encode.ts';
import { FileStore, type StoreContext } from '../src/store/file/file-store.ts';
import type { JobsChange } from '../src/store/file/transaction.ts';
import { job } from './support/factory.ts';
import { appendJob, spawnWorker, storeContext } from './support/store-context.ts';
import { tempDir } from './support/tmp.ts';

const transact = <T>(ctx: StoreContext, fn: JobsChange<T>): Promise<T> => new FileStore(ctx).transact(fn);
const readJobs = (ctx: StoreContext) => new FileStore(ctx).jobsFile.read();

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((name) => name.includes('.next'));

// ---

const sweep = suite('leftovers of a killed writer');

sweep('a writer killed before its rename leaves jobs.json as it was, and the next transaction sweeps its files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ctx = storeContext(dir);
    await appendJob(ctx, 'a');
    const before = fs.readFileSync(ctx.home.jobs);

    const killed = spawnWorker(['add', dir, 'b'], 'before-rename=kill');
    assert.equal(await killed.exited, { code: null, signal: 'SIGKILL' }, killed.stderr());
    assert.match(leftovers(dir).join(), /^jobs\.json\.next\.\d+\.[0-9a-f]{8}$/, 'the killed writer left its staging file, named for it alone');
    assert.equal(fs.readFileSync(ctx.home.jobs), before);
    assert.equal(readJobs(ctx).jobs.map((entry) => entry.id), ['a']);

    // What write-file-atomic leaves when killed mid-write, for jobs.json and for config.json.
    fs.writeFileSync(path.join(dir, 'jobs.json.next.1a2b3c'), '{"version": 1, "jo');
    fs.writeFileSync(path.join(dir, 'config.json.next'), '');
    // The killed writer's lock goes stale in seconds; here, at once.
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(ctx.home.lock, past, past);

    await appendJob(ctx, 'c');
    assert.equal(leftovers(dir), []);
    assert.equal(readJobs(ctx).jobs.map((entry) => entry.id), ['a', 'c']);
  } finally {
    cleanup();
  }
});

sweep.run();

// ---

const disk = suite('a full disk');

/** Mounts a tmpfs (`size=256k`, say) on a new directory, or says why it cannot. */
function mountTmpfs(options: string): { dir: string; unmount: () => void } | string {
  const { dir, cleanup } = tempDir();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    cleanup();
    return (mounted.stderr || mounted.error?.message || `mount exited ${mounted.status}`).trim();
  }
  return {
    dir,
    unmount: () => {
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
      cleanup();
    },
  };
}

const probe = mountTmpfs('size=64k');
const cannotMount = typeof probe === 'string' ? probe : null;
if (typeof probe !== 'string') probe.unmount();
if (cannotMount) process.stderr.write(`\nSKIPPING the full-disk tests: cannot mount a tmpfs (${cannotMount}); run them as root\n`);
const diskTest = cannotMount ? disk.skip : disk;

const freePages = (dir: string): number => Number(fs.statfsSync(dir).bavail);

/** Fills the filesystem of `dir` until exactly `pages` pages are free. */
function fill(dir: string, pages: number): void {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    fs.writeSync(fd, Buffer.alloc((freePages(dir) - pages) * fs.statfsSync(dir).bsize));
  } finally {
    fs.closeSync(fd);
  }
  assert.is(freePages(dir), pages);
}

/** A store on a small tmpfs whose jobs.json holds a few jobs with long commands (three pages). */
async function storeOnTmpfs(run: (ctx: ReturnType<typeof storeContext>, mount: string) => Promise<void>, options = 'size=256k'): Promise<void> {
  const mount = mountTmpfs(options);
  if (typeof mount === 'string') throw new Error(`cannot mount a tmpfs: ${mount}`);
  try {
    const ctx = storeContext(path.join(mount.dir, 'store'));
    fs.mkdirSync(ctx.home.dir);
    fs.writeFileSync(ctx.home.jobs, serializeJobs({ version: 1, jobs: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => job({ id, command: `echo ${id.repeat(1500)}` })) }));
    assert.ok(fs.statSync(ctx.home.jobs).size > 2 * 4096, 'jobs.json spans several pages');
    await transact(ctx, () => undefined); // creates the store's .gitignore while there is room
    await run(ctx, mount.dir);
  } finally {
    mount.unmount();
  }
}

async function failsCleanly(ctx: ReturnType<typeof storeContext>, what = /could not write \S*jobs\.json: ENOSPC/): Promise<void> {
  const before = fs.readFileSync(ctx.home.jobs);
  const error = await appendJob(ctx, `big-${'x'.repeat(100)}`).catch((thrown: unknown) => thrown);
  assert.instance(error, QueueError);
  assert.is((error as QueueError).code, 'io-error');
  assert.is((error as QueueError).exitStatus, 74);
  assert.match((error as QueueError).message, what);
  assert.match((error as QueueError).message, /ENOSPC: the disk is full; free some space and try again; nothing was changed$/);
  assert.equal(fs.readFileSync(ctx.home.jobs), before, 'jobs.json is byte-identical');
  assert.equal(leftovers(ctx.home.dir), [], 'no staging or temp file is left');
  assert.not.ok(fs.existsSync(ctx.home.lock), 'the lock is released');
}

diskTest('a write that fails with ENOSPC leaves jobs.json intact and says the disk is full (exit status 74)', async () => {
  await storeOnTmpfs(async (ctx, mount) => {
    fill(mount, 0);
    await failsCleanly(ctx);
    fs.rmSync(path.join(mount, 'filler'));
    await appendJob(ctx, 'after');
    assert.is(readJobs(ctx).jobs.at(-1)?.id, 'after');
  });
});

diskTest('a short write (the disk fills up part-way) leaves jobs.json intact and says the disk is full', async () => {
  await storeOnTmpfs(async (ctx, mount) => {
    // One free page: the new jobs.json (over two pages) is written in part, and write() says so.
    fill(mount, 1);
    await failsCleanly(ctx);
    fs.rmSync(path.join(mount, 'filler'));
    await appendJob(ctx, 'after');
    assert.equal(readJobs(ctx).jobs.map((entry) => entry.id), ['a', 'b', 'c', 'd', 'e', 'f', 'after']);
  });
});

diskTest('no free inodes (the lock directory cannot be made) fails at once with the same clear error', async () => {
  await storeOnTmpfs(async (ctx, mount) => {
    let files = 0;
    try {
      for (;;) fs.writeFileSync(path.join(mount, `filler-${files++}`), '');
    } catch (error) {
      assert.is((error as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const started = Date.now();
    await failsCleanly({ ...ctx, env: { QUEUECTL_LOCK_TIMEOUT_MS: '10000' } }, /could not lock \S*lock: ENOSPC/);
    assert.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started}ms, not at once`);
  }, 'size=256k,nr_inodes=32');
});

disk.run();

// ---

const lost = suite('staging under a lost lock');

lost('a staging write that fails after the lock was lost is a fence refusal (retried under a new lock), not a disk error', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // A successor sweeping write-file-atomic's temporary file makes its rename fail with ENOENT;
    // a directory that is gone fails the same way, deterministically.
    const file = path.join(dir, 'gone', 'jobs.json');
    const attempt = (stillHeld: boolean) => replaceFile(file, Buffer.from('{}\n'), { fd: null, identity: null }, () => stillHeld).then(() => null, (error: unknown) => error);
    const whileHeld = await attempt(true);
    assert.instance(whileHeld, QueueError, 'with the lock held, the failure is the disk\'s');
    assert.is((whileHeld as QueueError).code, 'io-error');
    assert.instance(await attempt(false), FenceError);
  } finally {
    cleanup();
  }
});

lost.run();
