import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { appendArchive, archiveFile } from '../src/store/file/archive.ts';
import { jobsToArchive } from '../src/lifecycle/retention.ts';
import { FileStore, type StoreContext } from '../src/store/file/file-store.ts';
import type { JobsChange } from '../src/store/file/transaction.ts';
import { at, job } from './support/factory.ts';
import { storeContext } from './support/store-context.ts';
import { queuectl } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

const transact = <T>(ctx: StoreContext, fn: JobsChange<T>): Promise<T> => new FileStore(ctx).transact(fn);
const readJobs = (ctx: StoreContext) => new FileStore(ctx).jobsFile.read();

const finished = (n: number, state: 'completed' | 'cancelled' | 'dead' = 'completed') =>
  Array.from({ length: n }, (_, i) => job({ id: `${state}-${i}`, state, created_at: at(i).toISOString(), finished_at: at(1000 + i).toISOString() }));

function withStore(body: (ctx: ReturnType<typeof storeContext>, dir: string) => Promise<void> | void) {
  return async () => {
    const { dir, cleanup } = tempDir();
    try {
      await body(storeContext(dir, { QUEUECTL_KEEP_FINISHED: '10' }), dir);
    } finally {
      cleanup();
    }
  };
}

// ---

const select = suite('jobsToArchive');

select('waits for a tenth more than the limit, then takes the oldest down to the limit', () => {
  assert.equal(jobsToArchive(finished(11), 10), []);
  const moving = jobsToArchive(finished(12), 10);
  assert.equal(moving.map((j) => j.id), ['completed-0', 'completed-1']);
});

select('never takes dead or unfinished jobs: the DLQ stays in jobs.json', () => {
  const jobs = [...finished(30, 'dead'), ...Array.from({ length: 30 }, (_, i) => job({ id: `p${i}` }))];
  assert.equal(jobsToArchive(jobs, 0), []);
  assert.is(jobsToArchive(finished(5, 'cancelled'), 0).length, 5);
});

select.run();

// ---

const retention = suite('retention');

retention('moves the oldest finished jobs to archive.jsonl in the transaction that crosses the limit', withStore(async (ctx) => {
  await transact(ctx, (doc) => {
    doc.jobs.push(...finished(25), job({ id: 'waiting' }));
  });
  const doc = readJobs(ctx);
  assert.is(doc.jobs.length, 11);
  assert.equal(doc.archived, { completed: 15, cancelled: 0 });
  assert.ok(doc.jobs.some((j) => j.id === 'waiting'));
  const lines = fs.readFileSync(archiveFile(ctx.home), 'utf8').trim().split('\n');
  assert.is(lines.length, 15);
  assert.is(JSON.parse(lines[0] as string).id, 'completed-0');
}));

retention('still finds archived jobs for list, show and wait', withStore(async (ctx) => {
  await transact(ctx, (doc) => {
    doc.jobs.push(...finished(25));
  });
  assert.is((await new FileStore(ctx).readAllJobs()).length, 25);
  assert.is((await new FileStore(ctx).lookupJobs(['completed-0', 'completed-24'])).map((j) => j.state).join(), 'completed,completed');
  await new FileStore(ctx).lookupJobs(['nope']).then(() => assert.unreachable('found a job that does not exist'), (error: Error) => assert.match(error.message, /no job with id "nope"/));
}));

retention('keeps one copy of a job left in both files by a crash between append and commit', withStore(async (ctx) => {
  const jobs = finished(3);
  await transact(ctx, (doc) => {
    doc.jobs.push(...jobs);
  });
  appendArchive(ctx.home, jobs);
  appendArchive(ctx.home, jobs.slice(0, 1));
  assert.equal((await new FileStore(ctx).readAllJobs()).map((j) => j.id), ['completed-0', 'completed-1', 'completed-2']);
}));

retention.run();

// ---

const cli = suite('archive through the CLI');

cli('status counts archived jobs and clean removes them from the archive too', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ctx = storeContext(`${dir}/.queuectl`, { QUEUECTL_KEEP_FINISHED: '2' });
    await transact(ctx, (doc) => {
      doc.jobs.push(...finished(10));
    });
    assert.ok(fs.existsSync(archiveFile(ctx.home)));
    const status = JSON.parse(queuectl(['status', '--json'], { cwd: dir }).stdout) as { counts: Record<string, number>; total: number };
    assert.is(status.counts.completed, 10);
    assert.is(status.total, 10);
    assert.is((JSON.parse(queuectl(['list', '--json'], { cwd: dir }).stdout) as unknown[]).length, 10);
    assert.is(queuectl(['clean'], { cwd: dir }).stdout, 'removed 10 finished jobs\n');
    assert.is((JSON.parse(queuectl(['status', '--json'], { cwd: dir }).stdout) as { total: number }).total, 0);
    assert.is(fs.readFileSync(archiveFile(ctx.home), 'utf8'), '');
  } finally {
    cleanup();
  }
});

cli.run();
