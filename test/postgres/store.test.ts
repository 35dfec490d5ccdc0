/**
 * The PostgreSQL store at its own level: `PostgresStore` against a fresh database per test, with
 * the rows looked at (and changed behind the store's back) through psql, synchronously, so that a
 * change can land in the middle of a transaction's synchronous `fn`.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { QueueError } from '../../src/lifecycle/error.ts';
import type { Job, Owner } from '../../src/lifecycle/job.ts';
import { cancelJob } from '../../src/lifecycle/transition.ts';
import { restartJobs } from '../../src/operations/restart.ts';
import { resolveHome } from '../../src/store/home.ts';
import { encodeJob } from '../../src/store/postgres/jobs.ts';
import { CHANGE_LOCK, PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { migrate, MIGRATIONS, schemaVersion } from '../../src/store/postgres/schema.ts';
import { HOST, selfIdentity } from '../../src/system/proc.ts';
import { job } from '../support/factory.ts';
import { pgSuite, withClient, type PgContext } from '../support/postgres.ts';
import { findServerBinaries } from '../support/postgres-server.ts';
import { race } from '../support/postgres-race.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const PAST = '2020-01-01T00:00:00.000Z';

interface Db {
  url: string;
  /** Holds the store's change lock in a psql session of its own for `seconds`; resolves when psql has exited. */
  holdLock(seconds: number): Promise<void>;
  /** Runs SQL as the superuser through psql, synchronously; returns its unaligned output, trimmed. */
  sql(query: string): string;
  /** A store on this database, closed after the test; `env` adds to QUEUECTL_DATABASE_URL. */
  store(env?: NodeJS.ProcessEnv): PostgresStore;
}

/** A fresh database for one test, and every store the test opened closed afterwards. */
async function withDb({ server }: PgContext, body: (db: Db) => Promise<void>): Promise<void> {
  const url = await server.createDatabase();
  const name = new URL(url).pathname.slice(1);
  const psql = path.join(findServerBinaries()!, 'psql');
  const { dir, cleanup } = tempDir('queuectl-pg-store-');
  const stores: PostgresStore[] = [];
  const db: Db = {
    url,
    holdLock: (seconds) => {
      const query = `BEGIN; SELECT pg_advisory_xact_lock(${CHANGE_LOCK}); SELECT pg_sleep(${seconds}); COMMIT;`;
      const holder = spawn(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', server.dir, '-p', String(server.port), '-U', 'postgres', '-d', name, '-c', query], { stdio: 'ignore' });
      return new Promise((resolve) => holder.on('close', () => resolve()));
    },
    sql: (query) => {
      const result = spawnSync(psql, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', server.dir, '-p', String(server.port), '-U', 'postgres', '-d', name, '-c', query], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`psql: ${result.stderr || result.error?.message}`);
      return result.stdout.trim();
    },
    store: (extra = {}) => {
      const env = { QUEUECTL_DATABASE_URL: url, ...extra };
      const store = new PostgresStore(url, resolveHome(env, dir), { env, cwd: dir, now: () => new Date() });
      stores.push(store);
      return store;
    },
  };
  try {
    await body(db);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
    cleanup();
  }
}

/** Adds jobs as `enqueue` does: appended to the live jobs in one transaction. */
const add = (store: PostgresStore, ...jobs: Job[]) => store.transact((doc) => void doc.jobs.push(...jobs));

const xmins = (db: Db): Record<string, string> => Object.fromEntries(db.sql('SELECT id, xmin FROM queuectl_jobs ORDER BY seq').split('\n').map((line) => line.split('|')));

const finishedAt = (minute: number) => `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
const completed = (id: string, minute: number) => job({ id, state: 'completed', attempts: 1, finished_at: finishedAt(minute), updated_at: finishedAt(minute) });

const other = (worker: number): Owner => ({ pid: 4242, started: 'elsewhere', host: 'other-host', worker });

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.unreachable('expected an error'),
    (error: unknown) => error,
  );
}

// ---

const transact = pgSuite('transact');

transact('adds jobs, and writes back only the rows that changed', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }), job({ id: 'b' }), job({ id: 'c' }));
    assert.is(db.sql('SELECT string_agg(id, \',\' ORDER BY seq) FROM queuectl_jobs'), 'a,b,c');
    const before = xmins(db);
    const result = await store.transact((doc) => {
      doc.jobs = doc.jobs.map((entry) => (entry.id === 'b' ? cancelJob(entry, store.now()) : entry));
      return 'the result of fn';
    });
    assert.is(result, 'the result of fn');
    const after = xmins(db);
    assert.is.not(after.b, before.b, 'the changed job was written');
    assert.is(after.a, before.a, 'an untouched job was not written');
    assert.is(after.c, before.c, 'an untouched job was not written');
    assert.equal((await store.readJobs()).jobs.map((entry) => [entry.id, entry.state]), [['a', 'pending'], ['b', 'cancelled'], ['c', 'pending']]);

    // A transaction that changes nothing writes nothing.
    await store.transact((doc) => void (doc.jobs = doc.jobs.map((entry) => ({ ...entry }))));
    assert.equal(xmins(db), after);
  });
});

transact('a job added behind the store with an id that fn adds too: a conflict, and nothing of fn is written', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }));
    const error = await caught(
      store.transact((doc) => {
        // fn checked that "x" is free; a writer that the lock does not stop takes it meanwhile.
        db.sql(`INSERT INTO queuectl_jobs (doc) VALUES ('${encodeJob(job({ id: 'x', command: 'behind' }))}'::jsonb)`);
        doc.jobs = [...doc.jobs.map((entry) => ({ ...entry, command: 'echo changed' })), job({ id: 'new' }), job({ id: 'x' })];
      }),
    );
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'conflict');
    assert.equal((await store.readAllJobs()).map((entry) => [entry.id, entry.command]), [['a', 'true'], ['x', 'behind']]);
  });
});

transact('after waiting for the change lock, fn sees the database clock as it is then, and a claim gets its whole lease', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }));
    const held = db.holdLock(3);
    await waitFor(() => db.sql(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`) === '1', { what: 'psql to hold the lock' });
    const began = Date.now();
    const lag = await store.transact((doc) => {
      doc.jobs = doc.jobs.map((entry) => ({ ...entry, state: 'processing' as const, owner: other(1), started_at: store.now().toISOString() }));
      return Date.now() - store.now().getTime();
    });
    await held;
    assert.ok(Date.now() - began >= 1_500, 'the transaction waited for the lock');
    assert.ok(Math.abs(lag) < 1_000, `the store's clock in fn was ${lag}ms behind this host's`);
    const left = Number(db.sql(`SELECT extract(epoch FROM lease_until - clock_timestamp()) FROM queuectl_jobs WHERE id = 'a'`));
    assert.ok(left > store.lease.seconds - 1.5, `the claim's lease has ${left}s left of ${store.lease.seconds}s`);
  });
});

transact.run();

// ---

const fence = pgSuite('transact: the fence');

fence('a row changed behind the store during fn: fn runs again on the fresh rows, and the row ends with both changes', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }), job({ id: 'b' }));
    const seen: number[] = [];
    await store.transact((doc) => {
      const a = doc.jobs.find((entry) => entry.id === 'a')!;
      seen.push(a.priority);
      // Not under the advisory lock: a writer the lock does not stop, as the fence assumes one may be.
      if (seen.length === 1) db.sql(`UPDATE queuectl_jobs SET doc = jsonb_set(doc, '{priority}', '7') WHERE id = 'a'`);
      doc.jobs = doc.jobs.map((entry) => (entry.id === 'a' ? { ...entry, command: 'echo changed' } : entry));
    });
    assert.equal(seen, [0, 7], 'fn ran a second time, and saw the change made under the first');
    const [a] = await store.lookupJobs(['a']);
    assert.is(a!.priority, 7, 'the change made behind the store is kept');
    assert.is(a!.command, 'echo changed', "fn's change is written");
  });
});

fence('a removed row that changed behind the store is fenced too', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }), job({ id: 'b' }));
    let calls = 0;
    await store.transact((doc) => {
      if (++calls === 1) db.sql(`UPDATE queuectl_jobs SET doc = jsonb_set(doc, '{priority}', '3') WHERE id = 'b'`);
      // Only a job still as it was is removed: after the change behind the store, fn keeps it.
      doc.jobs = doc.jobs.filter((entry) => entry.id !== 'b' || entry.priority === 3);
    });
    assert.is(calls, 2);
    assert.equal((await store.readJobs()).jobs.map((entry) => [entry.id, entry.priority]), [['a', 0], ['b', 3]]);
  });
});

fence('a row that changes under every try: busy after 5 tries, and nothing of fn is written', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    await add(store, job({ id: 'a' }));
    let calls = 0;
    const error = await caught(
      store.transact((doc) => {
        calls++;
        db.sql(`UPDATE queuectl_jobs SET doc = jsonb_set(doc, '{priority}', '${calls}') WHERE id = 'a'`);
        doc.jobs = [...doc.jobs.map((entry) => ({ ...entry, command: 'echo changed' })), job({ id: 'added' })];
      }),
    );
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'busy');
    assert.match((error as QueueError).message, /jobs kept changing under this transaction/);
    assert.is(calls, 5);
    const jobs = await store.readAllJobs();
    assert.equal(jobs.map((entry) => [entry.id, entry.command, entry.priority]), [['a', 'true', 5]], "only the changes behind the store are there: none of fn's");
  });
});

fence.run();

// ---

const archive = pgSuite('keep_finished: archived rows');

archive('finished jobs beyond keep_finished are archived: out of readJobs (counted), still found by readAllJobs and lookupJobs', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store({ QUEUECTL_KEEP_FINISHED: '5' });
    const done = Array.from({ length: 8 }, (_, index) => completed(`done-${index}`, index));
    await add(store, ...done, job({ id: 'waiting' }));
    assert.is(db.sql(`SELECT string_agg(id, ',' ORDER BY seq) FROM queuectl_jobs WHERE archived`), 'done-0,done-1,done-2', 'the oldest finished jobs are archived');
    const doc = await store.readJobs();
    assert.equal(doc.jobs.map((entry) => entry.id), ['done-3', 'done-4', 'done-5', 'done-6', 'done-7', 'waiting']);
    assert.equal(doc.archived, { completed: 3, cancelled: 0 });
    assert.equal((await store.readAllJobs()).map((entry) => entry.id).sort(), [...done.map((entry) => entry.id), 'waiting'].sort());
    assert.equal((await store.lookupJobs(['done-1', 'waiting'])).map((entry) => [entry.id, entry.state]), [['done-1', 'completed'], ['waiting', 'pending']]);
    // A transaction sees only the live jobs unless it asks for archived ones.
    assert.equal(await store.transact((live, _config, tx) => [live.jobs.length, tx.archived.length]), [6, 0]);
    assert.equal(await store.transact((_live, _config, tx) => tx.archived.map((entry) => entry.id), { archive: ['done-2', 'waiting'] }), ['done-2']);
  });
});

archive('restart of an archived job makes it live again', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store({ QUEUECTL_KEEP_FINISHED: '5' });
    await add(store, ...Array.from({ length: 8 }, (_, index) => completed(`done-${index}`, index)));
    assert.equal(await restartJobs(store, ['done-1']), ['done-1']);
    assert.is(db.sql(`SELECT archived || ' ' || state FROM queuectl_jobs WHERE id = 'done-1'`), 'false pending');
    const doc = await store.readJobs();
    assert.ok(doc.jobs.some((entry) => entry.id === 'done-1' && entry.state === 'pending'), 'readJobs lists it again');
    assert.equal(doc.archived, { completed: 2, cancelled: 0 });
  });
});

archive('tx.forget deletes archived rows', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store({ QUEUECTL_KEEP_FINISHED: '5' });
    await add(store, ...Array.from({ length: 8 }, (_, index) => completed(`done-${index}`, index)));
    const forgotten = await store.transact((_doc, _config, tx) => {
      tx.forget(tx.archived.filter((entry) => entry.id !== 'done-2'));
      return tx.archived.length;
    }, { archive: 'all' });
    assert.is(forgotten, 3);
    assert.equal((await store.readAllJobs()).map((entry) => entry.id), ['done-2', 'done-3', 'done-4', 'done-5', 'done-6', 'done-7']);
    assert.equal((await store.readJobs()).archived, { completed: 1, cancelled: 0 });
  });
});

archive('a new job may take the id of an archived one: the archived row gives way', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store({ QUEUECTL_KEEP_FINISHED: '5' });
    await add(store, ...Array.from({ length: 8 }, (_, index) => completed(`done-${index}`, index)), job({ id: 'last' }));
    await add(store, job({ id: 'done-0', command: 'echo again' }));
    const rows = db.sql(`SELECT id, archived, state FROM queuectl_jobs WHERE id IN ('done-0', 'last') ORDER BY seq`);
    assert.is(rows, 'last|f|pending\ndone-0|f|pending', 'one row for the id, live, at the end of creation order');
    const [reused] = await store.lookupJobs(['done-0']);
    assert.is(reused!.command, 'echo again');
    assert.equal((await store.readJobs()).archived, { completed: 2, cancelled: 0 });
  });
});

archive.run();

// ---

const supervisors = pgSuite('supervisors, stop requests and leases');

supervisors('register lists the supervisor with its heartbeat; renew says whether a stop was asked for; unregister removes it', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    const me = selfIdentity();
    const registration = await store.register({ ...me, started_at: new Date().toISOString(), count: 2, cwd: '/srv/queue' });
    const [listed, ...more] = await store.supervisors();
    assert.equal(more, []);
    assert.equal([listed!.pid, listed!.host, listed!.count, listed!.cwd, listed!.phase], [me.pid, HOST, 2, '/srv/queue', 'running']);
    assert.ok(listed!.heartbeat_at && Math.abs(Date.parse(listed!.heartbeat_at) - store.now().getTime()) < 5_000, `heartbeat_at ${listed!.heartbeat_at}`);
    assert.is(registration.renewEveryMs, 2_000, 'a fifth of the default lease');
    assert.is(registration.fenceMs, 6_000);

    assert.equal(await registration.renew('running'), { stop: null });
    const drain = await store.requestStop({ force: false });
    assert.equal(drain.asked.map((record) => record.pid), [me.pid]);
    assert.equal(await registration.renew('draining'), { stop: 'drain' });
    assert.is((await store.supervisors())[0]!.phase, 'draining');
    await store.requestStop({ force: true });
    assert.equal(await registration.renew('draining'), { stop: 'force' });

    await registration.unregister();
    assert.equal(await store.supervisors(), []);
    assert.is(db.sql('SELECT count(*) FROM queuectl_supervisors'), '0');
  });
});

supervisors('a supervisor whose lease ran out is no longer listed, nor asked to stop', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store({ QUEUECTL_LEASE: '2s' });
    const registration = await store.register({ ...selfIdentity(), started_at: new Date().toISOString(), count: 1, cwd: '/srv' });
    assert.is(registration.renewEveryMs, 400);
    assert.is((await store.supervisors()).length, 1);
    await waitFor(async () => (await store.supervisors()).length === 0, { timeout: 5_000, what: 'the 2s lease to run out' });
    assert.equal((await store.requestStop({ force: false })).asked, []);
    // A renewal after the lease ran out brings it back.
    await registration.renew('running');
    assert.is((await store.supervisors()).length, 1);
  });
});

supervisors('lostClaims: a processing job whose lease ran out, or whose supervisor on this host is gone; not one with a live lease elsewhere', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    const processing = (id: string, owner: Owner) => job({ id, state: 'processing', attempts: 1, owner, started_at: PAST });
    const gone: Owner = { pid: 999_999, started: 'long ago', host: HOST, worker: 1 };
    await add(store, processing('live', other(1)), processing('expired', other(2)), processing('orphan', gone), job({ id: 'waiting' }));
    assert.is(db.sql(`SELECT count(*) FROM queuectl_jobs WHERE claimed_by = 'other-host/4242/elsewhere' AND lease_until > now()`), '2', 'a claim gets a lease');
    db.sql(`UPDATE queuectl_jobs SET lease_until = now() - interval '1 second' WHERE id = 'expired'`);
    const lost = await store.lostClaims((await store.readJobs()).jobs);
    assert.equal([...lost].sort(), ['expired', 'orphan']);
  });
});

supervisors('renew extends the leases of the supervisor\'s own processing jobs only', async (context) => {
  await withDb(context, async (db) => {
    const store = db.store();
    const me = selfIdentity();
    const registration = await store.register({ ...me, started_at: new Date().toISOString(), count: 1, cwd: '/srv' });
    await add(store, job({ id: 'mine', state: 'processing', owner: { ...me, worker: 1 }, started_at: PAST }), job({ id: 'theirs', state: 'processing', owner: other(1), started_at: PAST }));
    db.sql(`UPDATE queuectl_jobs SET lease_until = now() - interval '1 second'`);
    await registration.renew('running');
    assert.equal([...(await store.lostClaims((await store.readJobs()).jobs))], ['theirs']);
  });
});

supervisors.run();

// ---

const watch = pgSuite('watch');

watch('wakes on another store\'s change (own=false) and on its own (own=true); after its connection is killed it reconnects, tells once, and wakes again', async (context) => {
  await withDb(context, async (db) => {
    const listener = db.store();
    const writer = db.store();
    await listener.readJobs();
    const heard: boolean[] = [];
    const stop = listener.watch(({ own }) => heard.push(own));
    const listening = () => db.sql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'queuectl listen ${process.pid}'`);
    const first = await waitFor(listening, { what: 'the LISTEN connection' });

    await add(writer, job({ id: 'a' }));
    await waitFor(() => heard.length === 1, { what: "the listener to hear the other store's change" });
    assert.equal(heard, [false]);
    await add(listener, job({ id: 'b' }));
    await waitFor(() => heard.length === 2, { what: "the listener to hear its own store's change" });
    assert.equal(heard, [false, true]);

    assert.is(db.sql(`SELECT pg_terminate_backend(${Number(first)})`), 't');
    const second = await waitFor(() => {
      const pid = listening();
      return pid && pid !== first ? pid : null;
    }, { what: 'the listener to reconnect' });
    await waitFor(() => heard.length === 3, { what: 'the listener to tell once after reconnecting' });
    assert.equal(heard, [false, true, false], 'changes may have been missed while it was away: it says so');

    await add(writer, job({ id: 'c' }));
    await waitFor(() => heard.length === 4, { what: 'the reconnected listener to hear a change' });
    assert.equal(heard, [false, true, false, false]);
    assert.is(listening(), second, 'one listening connection');
    stop();
  });
});

watch.run();

// ---

const migration = pgSuite('migration');

migration('a database at schema version 1 with a job is migrated to the latest version on first use, and keeps the job', async (context) => {
  await withDb(context, async (db) => {
    await withClient(db.url, async (client) => {
      assert.equal(await migrate(client, MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
      await client.query('INSERT INTO queuectl_jobs (doc) VALUES ($1::jsonb)', [encodeJob(job({ id: 'old', command: 'echo from v1' }))]);
    });
    const store = db.store();
    const doc = await store.readJobs();
    assert.equal(doc.jobs.map((entry) => [entry.id, entry.command]), [['old', 'echo from v1']]);
    await withClient(db.url, async (client) => assert.is(await schemaVersion(client), MIGRATIONS.at(-1)!.version));
    assert.is(db.sql(`SELECT archived FROM queuectl_jobs WHERE id = 'old'`), 'f');
    assert.is(db.sql('SELECT string_agg(version::text, \',\' ORDER BY version) FROM queuectl_schema'), MIGRATIONS.map((migration) => migration.version).join(','));
  });
});

migration.run();

// ---

const claims = pgSuite('claims through transact');

claims('4 processes claiming 200 due jobs: every job is claimed exactly once', async (context) => {
  await withDb(context, async (db) => {
    const jobs = Array.from({ length: 200 }, (_, index) => job({ id: `job-${String(index).padStart(3, '0')}`, priority: index % 3, run_at: PAST }));
    await add(db.store(), ...jobs);
    const results = await race(4, (index) => ['claim', db.url, `claimer-${index}`, '3']);
    const claimed = new Map<string, string[]>();
    for (const result of results) {
      assert.is(result.code, 0, `process ${result.pid}: ${JSON.stringify(result.output)} ${result.stderr}`);
      assert.is(result.output.at(-1), 'done');
      for (const line of result.output.slice(0, -1)) {
        for (const id of (line as { ids: string[] }).ids) claimed.set(id, [...(claimed.get(id) ?? []), String(result.pid)]);
      }
    }
    const twice = [...claimed].filter(([, pids]) => pids.length > 1);
    assert.equal(twice, [], 'no job is claimed twice');
    assert.is(claimed.size, 200, 'every job is claimed');
    const counts = results.map((result) => result.output.length - 1);
    assert.ok(counts.filter((count) => count > 0).length >= 2, `the claimers took turns: ${counts.join(', ')} claims each`);
    for (const entry of await db.store().readAllJobs()) {
      assert.is(entry.state, 'processing');
      assert.equal(claimed.get(entry.id), [String(entry.owner?.pid)], `${entry.id} is owned by the process that claimed it`);
    }
    assert.is(db.sql(`SELECT count(*) FROM queuectl_jobs WHERE claimed_by IS NULL OR lease_until IS NULL`), '0', 'every claim has its lease');
  });
});

claims.run();
