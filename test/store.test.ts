import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueError } from '../src/lifecycle/error.ts';
import { serializeJobs } from '../src/lifecycle/jobfile/encode.ts';
import { FileStore, type StoreContext } from '../src/store/file/file-store.ts';
import type { JobsChange } from '../src/store/file/transaction.ts';
import { identityOf } from '../src/store/file/atomic.ts';
import { fingerprint, writtenMark } from '../src/store/file/jobs-file.ts';
import { job } from './support/factory.ts';
import { appendJob, spawnWorker, stop, storeContext, type Worker } from './support/store-context.ts';
import { tempDir } from './support/tmp.ts';
import { waitFor } from './support/wait.ts';

const transact = <T>(ctx: StoreContext, fn: JobsChange<T>): Promise<T> => new FileStore(ctx).transact(fn);
const readJobs = (ctx: StoreContext) => new FileStore(ctx).jobsFile.read();

/** A store in a fresh temp dir whose jobs.json holds `ids`, written as the store writes it. */
function storeWith(...ids: string[]) {
  const { dir, cleanup } = tempDir();
  const ctx = storeContext(dir);
  if (ids.length > 0) fs.writeFileSync(ctx.home.jobs, serializeJobs({ version: 1, jobs: ids.map((id) => job({ id })) }));
  return { dir, ctx, cleanup, ids: () => readJobs(ctx).jobs.map((entry) => entry.id) };
}

const bytes = (file: string): Buffer => fs.readFileSync(file);

// ---

const commit = suite('transact');

commit('commits what the function leaves in the document, in the canonical format', async () => {
  const store = storeWith('a');
  try {
    const result = await transact(store.ctx, (doc) => {
      doc.jobs.push(job({ id: 'b' }));
      return doc.jobs.length;
    });
    assert.is(result, 2);
    assert.equal(store.ids(), ['a', 'b']);
    assert.is(fs.readFileSync(store.ctx.home.jobs, 'utf8'), serializeJobs({ version: 1, jobs: [job({ id: 'a' }), job({ id: 'b' })] }));
    assert.not.ok(fs.existsSync(store.ctx.home.lock), 'the lock is released');
  } finally {
    store.cleanup();
  }
});

commit('a function that throws commits nothing and its error comes out as it was', async () => {
  const store = storeWith('a');
  try {
    const before = bytes(store.ctx.home.jobs);
    const boom = new Error('boom');
    const error = await transact(store.ctx, (doc) => {
      doc.jobs.push(job({ id: 'b' }));
      doc.jobs[0]!.state = 'dead';
      throw boom;
    }).catch((thrown: unknown) => thrown);
    assert.is(error, boom);
    assert.equal(bytes(store.ctx.home.jobs), before);
    assert.not.ok(fs.existsSync(store.ctx.home.lock), 'the lock is released');
    assert.equal(await transact(store.ctx, (doc) => doc.jobs.map((entry) => entry.state)), ['pending']);
  } finally {
    store.cleanup();
  }
});

commit('a transaction that changes nothing does not rewrite the file', async () => {
  const store = storeWith('a', 'b');
  try {
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(store.ctx.home.jobs, past, past);
    const before = fs.statSync(store.ctx.home.jobs);
    const count = await transact(store.ctx, (doc) => doc.jobs.length);
    assert.is(count, 2);
    const after = fs.statSync(store.ctx.home.jobs);
    assert.is(after.ino, before.ino);
    assert.is(after.mtimeMs, before.mtimeMs);
  } finally {
    store.cleanup();
  }
});

commit('a transaction that changes nothing does not create jobs.json', async () => {
  const store = storeWith();
  try {
    assert.equal(await transact(store.ctx, (doc) => doc), { version: 1, jobs: [] });
    assert.not.ok(fs.existsSync(store.ctx.home.jobs));
  } finally {
    store.cleanup();
  }
});

commit('a hand-edited broken jobs.json fails with an error that names the problem, and stays as it was', async () => {
  const store = storeWith('a');
  const broken = [
    ['{"version": 1, "jobs": [\n  {"id": "a", "command": "x"},\n]}\n', 'not valid JSON (line 3, column 1)'],
    ['{"version": 1, "jobs": [{"id": "a", "command": "x", "state": "paused"}]}\n', 'job "a" (#1): field "state"'],
  ] as const;
  try {
    for (const [text, problem] of broken) {
      fs.writeFileSync(store.ctx.home.jobs, text);
      let called = false;
      const error = await transact(store.ctx, (doc) => {
        called = true;
        doc.jobs = [];
      }).catch((thrown: unknown) => thrown);
      assert.instance(error, QueueError);
      assert.is((error as QueueError).code, 'invalid-input');
      assert.ok((error as QueueError).message.includes('jobs.json'), (error as QueueError).message);
      assert.ok((error as QueueError).message.includes(problem), (error as QueueError).message);
      assert.not.ok(called, 'the function never saw the broken document');
      assert.is(fs.readFileSync(store.ctx.home.jobs, 'utf8'), text);
      assert.not.ok(fs.existsSync(store.ctx.home.lock), 'the lock is released');
    }
  } finally {
    store.cleanup();
  }
});

commit.run();

// ---

const read = suite('readJobs');

read('reads a missing file, or a missing store directory, as an empty queue', () => {
  const store = storeWith();
  try {
    assert.equal(readJobs(store.ctx), { version: 1, jobs: [] });
    const nowhere = storeContext(path.join(store.dir, 'not', 'there'));
    assert.equal(readJobs(nowhere), { version: 1, jobs: [] });
    assert.not.ok(fs.existsSync(nowhere.home.dir), 'reading creates nothing');
  } finally {
    store.cleanup();
  }
});

/** A store whose jobs.json is large enough to be recorded as written (over a megabyte). */
async function deepStore() {
  const store = storeWith();
  const jobs = Array.from({ length: 2_200 }, (_, i) => job({ id: `deep-${String(i).padStart(4, '0')}`, command: `echo ${i}` }));
  await transact(store.ctx, (doc) => {
    doc.jobs.push(...jobs);
  });
  assert.ok(fs.statSync(store.ctx.home.jobs).size > 1 << 20);
  assert.ok(fs.existsSync(writtenMark(store.ctx.home)), 'the commit records what it wrote');
  return { ...store, jobs };
}

/** Overwrites `from` with `to` (the same length) inside jobs.json, in place: same inode, same size. */
function editInPlace(file: string, from: string, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const at = Buffer.byteLength(text.slice(0, text.indexOf(from)));
  assert.ok(text.includes(from) && from.length === to.length);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, to, at);
  } finally {
    fs.closeSync(fd);
  }
}

read('a deep jobs.json that queuectl wrote reads back as the same jobs, and rewrites to the same bytes', async () => {
  const store = await deepStore();
  try {
    new FileStore(store.ctx).jobsFile.forget();
    assert.equal(readJobs(store.ctx).jobs, store.jobs);
    const before = bytes(store.ctx.home.jobs);
    await transact(store.ctx, (doc) => {
      doc.jobs[1000] = { ...doc.jobs[1000]!, priority: 7 };
      doc.jobs.push(job({ id: 'one-more' }));
    });
    const after = [...store.jobs.slice(0, 1000), { ...store.jobs[1000]!, priority: 7 }, ...store.jobs.slice(1001), job({ id: 'one-more' })];
    assert.is(fs.readFileSync(store.ctx.home.jobs, 'utf8'), serializeJobs({ version: 1, jobs: after }));
    assert.not.equal(bytes(store.ctx.home.jobs), before);
  } finally {
    store.cleanup();
  }
});

read('a hand edit in place that keeps the size is validated, whether this process knew the file or not', async () => {
  const store = await deepStore();
  try {
    // Known to this process (it wrote the file), edited at once: within the same clock tick, perhaps.
    editInPlace(store.ctx.home.jobs, '"id": "deep-1500",\n      "command": "echo 1500",\n      "state": "pending"', '"id": "deep-1500",\n      "command": "echo 1500",\n      "state": "pendinX"');
    assert.throws(() => readJobs(store.ctx), (error: Error) => error instanceof QueueError && /job "deep-1500" \(#1501\): field "state": unknown value "pendinX"/.test(error.message));
    // Known only by the record that queuectl wrote it.
    editInPlace(store.ctx.home.jobs, '"state": "pendinX"', '"state": "pending"');
    await transact(store.ctx, (doc) => {
      doc.jobs.push(job({ id: 'later' }));
    });
    new FileStore(store.ctx).jobsFile.forget();
    editInPlace(store.ctx.home.jobs, '"command": "echo 2000"', '"command": "echo 2\t00"');
    assert.throws(() => readJobs(store.ctx), /not valid JSON/);
    editInPlace(store.ctx.home.jobs, '"command": "echo 2\t00"', '"command": "echo 9999"');
    assert.is(readJobs(store.ctx).jobs[2000]?.command, 'echo 9999', 'a valid edit is read as it is');
    editInPlace(store.ctx.home.jobs, '"attempts": 0,\n      "max_retries": 3,\n      "priority": 0,\n      "run_at"', '"attempts": 0,\n      "max_retries": 3,\n      "priority": 0,\n      "run_ay"');
    assert.throws(() => readJobs(store.ctx), /job "deep-0000" \(#1\): unknown field "run_ay"/);
  } finally {
    store.cleanup();
  }
});

read('a file that matches the record of what queuectl wrote is not validated again', async () => {
  const store = await deepStore();
  try {
    // Something no validating read accepts, recorded as if queuectl had written it.
    editInPlace(store.ctx.home.jobs, '"state": "pending"', '"state": "pendinX"');
    const recorded = () => `${identityOf(fs.statSync(store.ctx.home.jobs, { bigint: true }))} ${fingerprint(bytes(store.ctx.home.jobs))}`;
    fs.writeFileSync(writtenMark(store.ctx.home), recorded());
    new FileStore(store.ctx).jobsFile.forget();
    assert.is(readJobs(store.ctx).jobs[0]?.state, 'pendinX' as never);
    fs.writeFileSync(writtenMark(store.ctx.home), recorded().replace(/ .*/, ' 0'));
    new FileStore(store.ctx).jobsFile.forget();
    assert.throws(() => readJobs(store.ctx), /unknown value "pendinX"/, 'a fingerprint that does not match is not trusted');
  } finally {
    store.cleanup();
  }
});

read.run();

// ---

const contention = suite('several processes');

contention('8 processes appending 100 jobs each lose none and duplicate none', async () => {
  const store = storeWith();
  try {
    const workers = Array.from({ length: 8 }, (_, index) => spawnWorker(['append', store.dir, `p${index}`, '100']));
    const exits = await Promise.all(workers.map((worker) => worker.exited));
    assert.equal(exits, workers.map(() => ({ code: 0, signal: null })), workers.map((worker) => worker.stderr()).join('\n'));
    const ids = store.ids();
    assert.is(ids.length, 800);
    assert.is(new Set(ids).size, 800);
    for (let index = 0; index < 8; index++) {
      assert.equal(ids.filter((id) => id.startsWith(`p${index}-`)), Array.from({ length: 100 }, (_, i) => `p${index}-${i}`));
    }
    assert.equal(fs.readdirSync(store.dir).sort(), ['.gitignore', 'jobs.json']);
  } finally {
    store.cleanup();
  }
});

contention.run();

// ---

const fence = suite('commit fence');

// The writer stalls synchronously (timers and all) after it has read the jobs and staged its
// commit, just before the rename; the staging file tells the test it is there.
function stalledWriter(store: ReturnType<typeof storeWith>): Worker {
  return spawnWorker(['add', store.dir, 'late'], 'before-rename=sleep:1200');
}

function staged(store: ReturnType<typeof storeWith>, writer: Worker): Promise<boolean> {
  return waitFor(() => fs.readdirSync(store.ctx.home.dir).some((name) => name.startsWith('jobs.json.next.')), { timeout: 15_000, what: `the writer to stage its commit: ${writer.stderr()}` });
}

fence('a holder whose file was replaced meanwhile retries on the new data, so both updates survive', async () => {
  const store = storeWith('base');
  const writer = stalledWriter(store);
  try {
    await staged(store, writer);
    // Another writer replaces jobs.json as a person's editor would: a new file renamed into place.
    fs.writeFileSync(`${store.ctx.home.jobs}.edit`, serializeJobs({ version: 1, jobs: [job({ id: 'base' }), job({ id: 'edited' })] }));
    fs.renameSync(`${store.ctx.home.jobs}.edit`, store.ctx.home.jobs);
    assert.equal(await writer.exited, { code: 0, signal: null }, writer.stderr());
    assert.equal(store.ids(), ['base', 'edited', 'late']);
  } finally {
    await stop(writer);
    store.cleanup();
  }
});

fence('a holder whose lock was taken over retries after the new holder, so both updates survive', async () => {
  const store = storeWith('base');
  const writer = stalledWriter(store);
  try {
    await staged(store, writer);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(store.ctx.home.lock, past, past);
    await appendJob(store.ctx, 'successor');
    assert.equal(await writer.exited, { code: 0, signal: null }, writer.stderr());
    assert.equal(store.ids(), ['base', 'successor', 'late']);
  } finally {
    await stop(writer);
    store.cleanup();
  }
});

fence('a holder SIGSTOPped past the stale limit and then continued neither crashes nor loses an update', async () => {
  const store = storeWith('base');
  const writer = stalledWriter(store);
  try {
    await staged(store, writer);
    writer.child.kill('SIGSTOP');
    const started = Date.now();
    await appendJob(store.ctx, 'successor');
    assert.ok(Date.now() - started > 3_000, 'the successor waited for the stopped holder\'s lock to go stale');
    writer.child.kill('SIGCONT');
    assert.equal(await writer.exited, { code: 0, signal: null }, writer.stderr());
    assert.is(writer.stderr(), '');
    assert.equal(store.ids(), ['base', 'successor', 'late']);
  } finally {
    await stop(writer);
    store.cleanup();
  }
});

fence.run();
