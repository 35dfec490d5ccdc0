/**
 * The store's display reads, against both stores: each read gives what the same question asked
 * of every job (`readJobs`, `readAllJobs` and the lifecycle's pure functions) gives, on a queue
 * with every state, several queues and priorities, dependencies, archived jobs and recent runs.
 */
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeActivity } from '../src/lifecycle/activity.ts';
import { STATES, type Attempt, type Job } from '../src/lifecycle/job.ts';
import { byPriority, isDue } from '../src/lifecycle/start-order.ts';
import { waitingFor } from '../src/lifecycle/workflow.ts';
import { FileStore } from '../src/store/file/file-store.ts';
import { resolveHome } from '../src/store/home.ts';
import { PostgresStore } from '../src/store/postgres/postgres-store.ts';
import type { JobOrder, JobQuery } from '../src/store/reads.ts';
import type { Store } from '../src/store/store.ts';
import { JsonArrayWriter } from '../src/cli/json-array.ts';
import { fullJob } from '../src/lifecycle/jobfile/keys.ts';
import { queuectl } from './support/cli.ts';
import { job } from './support/factory.ts';
import { pgSuite, type PgContext } from './support/postgres.ts';
import { storeContext } from './support/store-context.ts';
import { tempDir } from './support/tmp.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

function attempt(finishedSecondsAgo: number, outcome: Attempt['outcome'], duration_ms: number): Attempt {
  return { started_at: ago(finishedSecondsAgo + duration_ms / 1000), finished_at: ago(finishedSecondsAgo), duration_ms, outcome, exit_code: outcome === 'completed' ? 0 : 1, signal: null, error: null, retry_at: null };
}

/** Finished jobs first (the oldest get archived with keep_finished 4), then every other state. */
function queue(): Job[] {
  const jobs: Job[] = [];
  for (let i = 0; i < 8; i++) {
    const finished = ago(7200 - i * 60);
    jobs.push(job({ id: `done-${i}`, state: i % 3 === 2 ? 'cancelled' : 'completed', priority: i % 2, queue: i % 2 ? 'mail' : 'default', attempts: 1, created_at: ago(9000 - i), updated_at: finished, finished_at: finished, history: [attempt(7200 - i * 60, 'completed', 100 + i)] }));
  }
  const ran = (seconds: number, outcome: Attempt['outcome'], ms: number) => [attempt(seconds, outcome, ms)];
  jobs.push(
    job({ id: 'recent-ok', state: 'completed', attempts: 1, created_at: ago(600), updated_at: ago(20), finished_at: ago(20), history: ran(20, 'completed', 400) }),
    job({ id: 'recent-fail', state: 'failed', attempts: 1, run_at: ago(-30), created_at: ago(590), updated_at: ago(90), history: ran(90, 'failed', 1200) }),
    job({ id: 'timed', state: 'dead', attempts: 2, created_at: ago(580), updated_at: ago(1800), history: [attempt(3000, 'failed', 50), attempt(1800, 'timed-out', 5000)] }),
    job({ id: 'cut', state: 'pending', attempts: 0, recoveries: 1, created_at: ago(570), updated_at: ago(100), history: ran(100, 'interrupted', 800) }),
    job({ id: 'run-a', state: 'processing', queue: 'mail', created_at: ago(560), updated_at: ago(5), started_at: ago(5), owner: { pid: 1, started: 'x', host: 'elsewhere', worker: 1 } }),
    job({ id: 'hi', state: 'pending', priority: 5, created_at: ago(550), updated_at: ago(550), run_at: ago(550) }),
    job({ id: 'later', state: 'pending', priority: 9, created_at: ago(540), updated_at: ago(540), run_at: ago(-3600) }),
    job({ id: 'soon', state: 'pending', created_at: ago(530), updated_at: ago(530), run_at: ago(-60) }),
    job({ id: 'blocked', state: 'pending', created_at: ago(520), updated_at: ago(520), after: ['hi', 'done-0', 'recent-fail'] }),
    job({ id: 'chained', state: 'pending', queue: 'mail', created_at: ago(510), updated_at: ago(510), after: ['recent-ok'] }),
    job({ id: 'Echo-Mixed', command: 'echo MIXED case', state: 'pending', created_at: ago(500), updated_at: ago(500) }),
    job({ id: 'gone', state: 'dead', queue: 'mail', created_at: ago(490), updated_at: ago(20) }),
  );
  return jobs;
}

/** What a list of `query` is when every job is read, as `list` and the dashboard computed it before the store did. */
function expected(all: readonly Job[], live: readonly Job[], query: JobQuery): Job[] {
  const archived = !query.states || query.states.some((state) => state === 'completed' || state === 'cancelled');
  const needle = query.text?.toLowerCase() ?? '';
  const chosen = (archived ? all : live).filter((candidate) => (!query.states || query.states.includes(candidate.state)) && (!query.queue || candidate.queue === query.queue) && (candidate.id.toLowerCase().includes(needle) || candidate.command.toLowerCase().includes(needle)));
  const orders: Record<JobOrder, () => Job[]> = {
    created: () => chosen,
    run: () => byPriority(chosen),
    newest: () => [...chosen].reverse(),
    recent: () => chosen.map((entry, index) => ({ entry, index })).sort((a, b) => Date.parse(b.entry.updated_at) - Date.parse(a.entry.updated_at) || b.index - a.index).map(({ entry }) => entry),
  };
  return orders[query.order]();
}

const ids = (jobs: readonly Job[]) => jobs.map((entry) => entry.id);

const QUERIES: JobQuery[] = [
  ...(['created', 'run', 'recent', 'newest'] as const).map((order) => ({ order })),
  { states: ['pending'], order: 'run' },
  { states: ['pending', 'failed'], order: 'run' },
  { states: ['completed'], order: 'recent' },
  { states: ['dead', 'completed'], order: 'newest' },
  { states: ['processing'], order: 'run' },
  { queue: 'mail', order: 'run' },
  { text: 'mixed', order: 'run' },
  { states: ['pending'], queue: 'mail', text: 'chain', order: 'recent' },
];

/** The read suite for one store; `open` gives a fresh, empty store (and its clean-up). */
function reads<C>(test: Test<C>, open: (context: C) => Promise<{ store: Store; dir: string; env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }>): void {
  async function filled(context: C, body: (store: Store, all: Job[], live: Job[], cli: (...args: string[]) => string) => Promise<void>) {
    const { store, dir, env, cleanup } = await open(context);
    const cli = (...args: string[]) => {
      const result = queuectl(args, { cwd: dir, env });
      assert.is(result.status, 0, result.stderr);
      return result.stdout;
    };
    try {
      await store.updateConfig((config) => ({ config: { ...config, keep_finished: 4 }, result: undefined }));
      await store.transact((doc) => void doc.jobs.push(...queue()));
      const live = (await store.readJobs()).jobs;
      const all = await store.readAllJobs();
      assert.ok(all.length > live.length, 'some finished jobs are archived');
      await body(store, all, live, cli);
    } finally {
      await cleanup();
    }
  }

  test('counts jobs per state with the archived ones, and per queue over the live ones', (context) =>
    filled(context, async (store, all, live) => {
      const counts = await store.countJobs();
      const { archived } = await store.readJobs();
      for (const state of STATES) {
        const extra = state === 'completed' || state === 'cancelled' ? (archived?.[state] ?? 0) : 0;
        assert.is(counts.states[state], live.filter((entry) => entry.state === state).length + extra, state);
      }
      assert.is(Object.values(counts.states).reduce((sum, n) => sum + n, 0), all.length);
      assert.equal(Object.keys(counts.queues).sort(), ['default', 'mail']);
      assert.is(counts.queues.mail!.processing, 1);
      assert.is(counts.queues.mail!.dead, 1);
    }));

  test('pages every list in its order, cut by offset and limit', (context) =>
    filled(context, async (store, all, live) => {
      for (const query of QUERIES) {
        const whole = ids(expected(all, live, query));
        assert.equal(ids(await store.pageJobs(query, { offset: 0 })), whole, JSON.stringify(query));
        assert.equal(ids(await store.pageJobs(query, { offset: 2, limit: 3 })), whole.slice(2, 5), `${JSON.stringify(query)} page`);
        assert.is(await store.countMatching(query), whole.length, `${JSON.stringify(query)} count`);
      }
    }));

  test('streams a list in batches that join up to the page, and limits it', async (context) =>
    filled(context, async (store, all, live) => {
      for (const query of QUERIES) {
        const streamed: Job[] = [];
        await store.streamJobs(query, undefined, (batch) => void streamed.push(...batch));
        assert.equal(ids(streamed), ids(expected(all, live, query)), JSON.stringify(query));
        const limited: Job[] = [];
        await store.streamJobs(query, 2, (batch) => void limited.push(...batch));
        assert.equal(ids(limited), ids(expected(all, live, query)).slice(0, 2));
      }
      const whole = (await store.pageJobs({ order: 'created' }, { offset: 0 })).find((entry) => entry.id === 'blocked');
      assert.equal(whole, all.find((entry) => entry.id === 'blocked'), 'jobs come back whole');
    }));

  test('gives the processing jobs, the next jobs and the jobs waiting for dependencies', (context) =>
    filled(context, async (store, _all, live) => {
      assert.equal(ids(await store.processingJobs()), ['run-a']);
      const waiting = live.filter((entry) => entry.state === 'pending' || entry.state === 'failed');
      const next = await store.nextJobs(NOW);
      assert.is(next.start?.id, byPriority(waiting.filter((entry) => isDue(entry, NOW)))[0]?.id);
      assert.is(next.start?.id, 'hi');
      assert.is(next.soonest?.run_at, waiting.map((entry) => entry.run_at).sort()[0]);
      const byId = new Map(live.map((entry) => [entry.id, entry]));
      assert.equal(await store.dependencyWaits(10), { jobs: [{ job: 'blocked', waiting_for: waitingFor(byId.get('blocked')!, byId) }], total: 1 });
      assert.equal((await store.dependencyWaits(10)).jobs[0]!.waiting_for, ['hi', 'recent-fail']);
      assert.equal(await store.dependencyWaits(0), { jobs: [], total: 1 });
    }));

  test('computes the last hour and minute of runs as the lifecycle does over the live jobs', (context) =>
    filled(context, async (store, _all, live) => {
      const activity = await store.activity(NOW);
      assert.equal(activity, computeActivity(live, NOW));
      assert.equal(activity.metrics.last_minute, { completed: 1, failed: 0 });
      assert.equal(activity.metrics.last_hour, { completed: 1, failed: 3 }, 'a time-out is a failure, an interruption is neither');
      assert.is(activity.minutes.length, 60);
    }));

  test('list --json and dlq list --json print the bytes of the whole list as one JSON document', (context) =>
    filled(context, async (_store, all, live, cli) => {
      const document = (jobs: readonly Job[]) => `${JSON.stringify(jobs.map(fullJob), null, 2)}\n`;
      assert.is(cli('list', '--json'), document(expected(all, live, { order: 'run' })));
      assert.is(cli('list', '--json', '--recent', '--limit', '3'), document(expected(all, live, { order: 'recent' }).slice(0, 3)));
      assert.is(cli('list', '--json', '--state', 'cancelled'), document(expected(all, live, { states: ['cancelled'], order: 'run' })));
      assert.is(cli('dlq', 'list', '--json'), document(live.filter((entry) => entry.state === 'dead')));
      assert.is(cli('list', '--json', '--state', 'processing,failed', '--limit', '1'), document(expected(all, live, { states: ['processing', 'failed'], order: 'run' }).slice(0, 1)));
    }));

  test('sees a change made after an earlier read', (context) =>
    filled(context, async (store) => {
      const before = await store.countJobs();
      await store.transact((doc) => void doc.jobs.push(job({ id: 'late', created_at: NOW.toISOString(), updated_at: NOW.toISOString() })));
      assert.is((await store.countJobs()).states.pending, before.states.pending + 1);
      assert.equal(ids(await store.pageJobs({ order: 'newest' }, { offset: 0, limit: 1 })), ['late']);
    }));

  test('gives the queue settings and schedules', (context) =>
    filled(context, async (store) => {
      assert.equal(await store.queueSettings(), { queues: {}, schedules: [] });
      await store.transact((doc) => void (doc.queues = { mail: { parallel: 2, paused: true } }));
      assert.equal((await store.queueSettings()).queues, { mail: { parallel: 2, paused: true } });
    }));

  test.run();
}

// ---

const streamed = suite('JsonArrayWriter');

streamed('writes the bytes JSON.stringify gives the whole array, however it is cut into batches', () => {
  const jobs = queue();
  for (const cut of [[], [1], [3, 7], [jobs.length]]) {
    let text = '';
    const writer = new JsonArrayWriter({ write: (chunk: string) => ((text += chunk), true) });
    let from = 0;
    for (const to of [...cut, jobs.length]) {
      writer.add(jobs.slice(from, to));
      from = to;
    }
    writer.end();
    assert.is(text, `${JSON.stringify(jobs, null, 2)}\n`, `cut at ${cut.join(', ')}`);
  }
  let empty = '';
  const none = new JsonArrayWriter({ write: (chunk: string) => ((empty += chunk), true) });
  none.add([]);
  none.end();
  assert.is(empty, '[]\n');
});

streamed.run();

// ---

reads(suite('reads on the file store'), async () => {
  const { dir, cleanup } = tempDir('queuectl-reads-');
  const store = new FileStore({ ...storeContext(dir), now: () => NOW });
  return { store, dir, env: { QUEUECTL_HOME: dir }, cleanup: async () => cleanup() };
});

reads(pgSuite('reads on PostgreSQL'), async ({ server }: PgContext) => {
  const url = await server.createDatabase();
  const { dir, cleanup } = tempDir('queuectl-reads-pg-');
  const env = { QUEUECTL_DATABASE_URL: url };
  const store = new PostgresStore(url, resolveHome(env, dir), { env, cwd: dir, now: () => NOW });
  return {
    store,
    dir,
    env,
    cleanup: async () => {
      await store.close();
      cleanup();
    },
  };
});
