import type { ClientBase } from 'pg';
import * as assert from 'uvu/assert';
import { QueueError } from '../../src/lifecycle/error.ts';
import { cancelJob, finishJob, restartJob, type Job, type Owner } from '../../src/lifecycle/job.ts';
import { canonicalJob, fromStored } from '../../src/lifecycle/jobfile.ts';
import { changeJobs, claimDue, decodeJob, insertJobs } from '../../src/store/postgres/jobs.ts';
import { migrate } from '../../src/store/postgres/schema.ts';
import { job } from '../support/factory.ts';
import { pgSuite, withClient, type PgContext } from '../support/postgres.ts';
import { race } from '../support/postgres-race.ts';

/** A job as the store gives it back: every field, in the order of jobs.json. */
const asRead = (job: Job) => fromStored(canonicalJob(job));

const PAST = '2020-01-01T00:00:00.000Z';
const FUTURE = '2999-01-01T00:00:00.000Z';
const LEASE = { supervisor: 'sup-1', seconds: 30 };

const owner = (worker: number): Owner => ({ pid: 4242, started: 'Mon Jan  1 00:00:00 2026', host: 'host-a', worker });

/** A fresh, migrated database for one test. */
async function withJobs<T>({ server }: PgContext, fn: (client: ClientBase, url: string) => Promise<T>): Promise<T> {
  const url = await server.createDatabase();
  return withClient(url, async (client) => {
    await migrate(client);
    return fn(client, url);
  });
}

interface Row {
  seq: string;
  id: string;
  state: string;
  priority: number;
  run_at: Date;
  claimed_by: string | null;
  lease_until: Date | null;
  doc: unknown;
  xmin: string;
}

async function rows(client: ClientBase): Promise<Row[]> {
  return (await client.query<Row>('SELECT seq, id, state, priority, run_at, claimed_by, lease_until, doc, xmin FROM queuectl_jobs ORDER BY seq')).rows;
}

const stored = async (client: ClientBase): Promise<Job[]> => (await rows(client)).map((row) => decodeJob(row.doc));

// ---

const insert = pgSuite('insertJobs');

insert('stores each job whole, in creation order, with its claim columns taken from the job', async (context) => {
  await withJobs(context, async (client) => {
    const jobs = [job({ id: 'b', priority: 5 }), job({ id: 'a', state: 'failed', run_at: FUTURE }), job({ id: 'c', history: [] })];
    await insertJobs(client, jobs);
    const found = await rows(client);
    assert.equal(found.map((row) => row.id), ['b', 'a', 'c']);
    assert.equal(found.map((row) => [row.state, row.priority, row.run_at.toISOString()]), [['pending', 5, job().run_at], ['failed', 0, FUTURE], ['pending', 0, job().run_at]]);
    assert.ok(Number(found[0]!.seq) < Number(found[1]!.seq) && Number(found[1]!.seq) < Number(found[2]!.seq));
    assert.equal(await stored(client), jobs.map(asRead));
    assert.equal(Object.keys((await stored(client))[0]!), Object.keys(asRead(jobs[0]!)), 'the keys come back in the order of jobs.json');
  });
});

insert('a duplicate id is a conflict and adds none of the batch', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a', state: 'dead' })]);
    const error = await insertJobs(client, [job({ id: 'new-1' }), job({ id: 'a' }), job({ id: 'new-2' })]).catch((thrown: unknown) => thrown);
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'conflict');
    assert.is((error as QueueError).exitStatus, 4);
    assert.is((error as QueueError).message, 'a job with id "a" already exists (dead); choose another id');
    assert.equal((await stored(client)).map((entry) => [entry.id, entry.state]), [['a', 'dead']]);
  });
});

insert('the same id twice in one batch is a conflict and adds nothing', async (context) => {
  await withJobs(context, async (client) => {
    const error = await insertJobs(client, [job({ id: 'x' }), job({ id: 'y' }), job({ id: 'x' })]).catch((thrown: unknown) => thrown);
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'conflict');
    assert.match((error as QueueError).message, /"x"/);
    assert.equal(await stored(client), []);
  });
});

insert.run();

// ---

const change = pgSuite('changeJobs');

change('applies a pure transition with the database time and writes only the jobs it changed', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'dead-1', state: 'dead', attempts: 3 }), job({ id: 'done', state: 'completed' }), job({ id: 'other' })]);
    const before = await rows(client);
    const { rows: [{ now: dbBefore }] } = await client.query('SELECT now() AS now');
    let seenNow: Date | null = null;
    const written = await changeJobs(client, ['dead-1', 'done'], (jobs, now) => {
      seenNow = now;
      return jobs.map((entry) => (entry.state === 'dead' ? restartJob(entry, now) : entry));
    });
    assert.equal(written.map((entry) => entry.id), ['dead-1']);
    assert.ok(seenNow! >= dbBefore, 'now comes from the database clock');
    const after = await rows(client);
    assert.is(after[0]!.state, 'pending', 'the generated state column follows the document');
    assert.equal(decodeJob(after[0]!.doc), asRead(restartJob(decodeJob(before[0]!.doc), seenNow!)));
    assert.is.not(after[0]!.xmin, before[0]!.xmin, 'the changed job was written');
    assert.is(after[1]!.xmin, before[1]!.xmin, 'the job returned unchanged was not written');
    assert.is(after[2]!.xmin, before[2]!.xmin, 'the job not asked for was not touched');
  });
});

change('a job returned as an equal copy is not written', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a' })]);
    const [before] = await rows(client);
    assert.equal(await changeJobs(client, ['a'], (jobs) => jobs.map((entry) => ({ ...entry }))), []);
    const [after] = await rows(client);
    assert.is(after!.xmin, before!.xmin);
  });
});

change('an unknown id is not-found and changes nothing', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a' })]);
    const before = await rows(client);
    const error = await changeJobs(client, ['a', 'ghost'], (jobs, now) => jobs.map((entry) => cancelJob(entry, now))).catch((thrown: unknown) => thrown);
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'not-found');
    assert.is((error as QueueError).message, 'no job with id "ghost"; see queuectl list');
    assert.equal(await rows(client), before);
  });
});

change('a function that throws writes nothing', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a' })]);
    const before = await rows(client);
    const boom = new Error('boom');
    const error = await changeJobs(client, ['a'], () => {
      throw boom;
    }).catch((thrown: unknown) => thrown);
    assert.is(error, boom);
    assert.equal(await rows(client), before);
    assert.equal((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the connection is usable: the transaction was rolled back');
  });
});

change('a claimed job that finishes gives up its lease', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a', run_at: PAST })]);
    await claimDue(client, [owner(1)], LEASE);
    const [claimed] = await rows(client);
    assert.is(claimed!.claimed_by, 'sup-1');
    const run = { started_at: PAST, finished_at: PAST, exit_code: 0, signal: null, timed_out: false, stderr_tail: null };
    await changeJobs(client, ['a'], (jobs, now) => jobs.map((entry) => finishJob(entry, run, 2, now)));
    const [finished] = await rows(client);
    assert.is(finished!.state, 'completed');
    assert.is(finished!.claimed_by, null);
    assert.is(finished!.lease_until, null);
  });
});

change.run();

// ---

const claim = pgSuite('claimDue');

claim('claims due jobs by priority, then age, and skips what is not due', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [
      job({ id: 'old-low', run_at: PAST }),
      job({ id: 'future-high', priority: 9, run_at: FUTURE }),
      job({ id: 'mid', priority: 5, run_at: PAST }),
      job({ id: 'done-high', priority: 9, state: 'completed' }),
      job({ id: 'retry-high', priority: 9, state: 'failed', attempts: 1, run_at: PAST }),
      job({ id: 'new-low', run_at: PAST }),
      job({ id: 'dead-high', priority: 9, state: 'dead' }),
      job({ id: 'new-mid', priority: 5, run_at: PAST }),
    ]);
    const order: string[] = [];
    for (;;) {
      const [next, ...more] = await claimDue(client, [owner(1)], LEASE);
      assert.equal(more, []);
      if (!next) break;
      order.push(next.id);
    }
    assert.equal(order, ['retry-high', 'mid', 'new-mid', 'old-low', 'new-low']);
    const states = Object.fromEntries((await stored(client)).map((entry) => [entry.id, entry.state]));
    assert.equal(states, { 'old-low': 'processing', 'future-high': 'pending', mid: 'processing', 'done-high': 'completed', 'retry-high': 'processing', 'new-low': 'processing', 'dead-high': 'dead', 'new-mid': 'processing' });
  });
});

claim('gives job i to owner i through claimJob, with the database time, under the lease', async (context) => {
  await withJobs(context, async (client) => {
    await insertJobs(client, [job({ id: 'a', run_at: PAST, priority: 1 }), job({ id: 'b', run_at: PAST }), job({ id: 'c', run_at: PAST })]);
    const claimed = await claimDue(client, [owner(1), owner(2)], LEASE);
    assert.equal(claimed.map((entry) => [entry.id, entry.state, entry.owner?.worker]), [['a', 'processing', 1], ['b', 'processing', 2]]);
    const found = await rows(client);
    assert.equal(found.map((row) => decodeJob(row.doc)).slice(0, 2), claimed.map(asRead));
    for (const row of found.slice(0, 2)) {
      assert.is(row.claimed_by, 'sup-1');
      // started_at and lease_until come from the same now() of one transaction.
      assert.is(row.lease_until!.getTime() - LEASE.seconds * 1000, Date.parse(decodeJob(row.doc).started_at!));
    }
    assert.equal([found[2]!.state, found[2]!.claimed_by], ['pending', null]);
    assert.equal(await claimDue(client, [], LEASE), []);
  });
});

claim('4 processes claiming 200 due jobs: every job is claimed exactly once', async (context) => {
  await withJobs(context, async (client, url) => {
    const jobs = Array.from({ length: 200 }, (_, index) => job({ id: `job-${String(index).padStart(3, '0')}`, priority: index % 3, run_at: PAST }));
    await insertJobs(client, jobs);
    const results = await race(4, (index) => ['claim', url, `claimer-${index}`, '3']);
    const claims = new Map<string, string[]>();
    for (const result of results) {
      assert.is(result.code, 0, `process ${result.pid}: ${JSON.stringify(result.output)} ${result.stderr}`);
      assert.is(result.output.at(-1), 'done');
      for (const line of result.output.slice(0, -1)) {
        for (const id of (line as { ids: string[] }).ids) claims.set(id, [...(claims.get(id) ?? []), String(result.pid)]);
      }
    }
    const twice = [...claims].filter(([, pids]) => pids.length > 1);
    assert.equal(twice, [], 'no job is claimed twice');
    assert.is(claims.size, 200, 'every job is claimed');
    const counts = results.map((result) => result.output.length - 1);
    assert.ok(counts.filter((count) => count > 0).length >= 2, `the claimers took turns: ${counts.join(', ')} claims each`);
    for (const entry of await stored(client)) {
      assert.is(entry.state, 'processing');
      assert.equal(claims.get(entry.id), [String(entry.owner?.pid)], `${entry.id} is owned by the process that claimed it`);
    }
  });
});

claim.run();
