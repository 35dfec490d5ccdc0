/**
 * What each operation costs with a deep queue, on both stores: `enqueue`, `status`,
 * `list --limit 50` and a drain of a batch of `true` jobs, with `depth` jobs pending that are not
 * due during the measurement (their run_at an hour ahead), so the drain runs only its batch while
 * the depth sits in the queue, in jobs.json or in the claim index. The file store's depth is
 * written directly in the jobs.json format; PostgreSQL's is that same file loaded by
 * `queuectl import` into a fresh database per depth.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PostgresServer } from '../support/postgres-server.ts';
import { BatchWatch } from './progress.ts';
import { bareDrain, now, queuectl, sleep, Supervisor, temporary, timeNode } from './procs.ts';
import { mean, median } from './stats.ts';
import { pendingJobsText, writePending } from './store.ts';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const pad = (i: number) => String(i).padStart(6, '0');

export type StoreKind = 'file' | 'postgres';

/** One store filled to one depth, measured in place. */
export interface DepthCase {
  store: StoreKind;
  depth: number;
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The drain's batch: jobs not finished yet (pending, processing, failed), and jobs that ended neither completed nor unfinished (dead, cancelled). */
  progress: () => Promise<{ unfinished: number; other: number }>;
  close: () => Promise<void>;
}

export interface DepthDrain {
  jobs: number;
  done: number;
  ms: number;
  timedOut: boolean;
  jobsPerSec: number;
  /** The bare spawn loop at the same concurrency, run just before and just after. */
  bareJobsPerSec: number;
  /** Jobs of the batch that ended dead or cancelled: a clean drain has none. */
  other: number;
}

export interface DepthFigures {
  enqueueMs: number;
  statusMs: number;
  listMs: number;
  nodeMs: number;
  drain: DepthDrain | null;
}

export async function fileCase(depth: number): Promise<DepthCase> {
  const { dir, remove } = temporary(`queuectl-bench-depth-file-${depth}-`);
  const home = path.join(dir, '.queuectl');
  writePending(home, depth, dir);
  const batch = new BatchWatch(path.join(home, 'jobs.json'), `drain-${pad(0)}`);
  return { store: 'file', depth, dir, env: {}, progress: async () => batch.read(), close: async () => remove() };
}

export async function postgresCase(server: PostgresServer, depth: number): Promise<DepthCase> {
  const { dir, remove } = temporary(`queuectl-bench-depth-pg-${depth}-`);
  const url = await server.createDatabase();
  const env = { QUEUECTL_DATABASE_URL: url };
  if (depth === 0) {
    queuectl(['status'], dir, undefined, env); // creates the schema
  } else {
    const file = path.join(dir, 'pending.json');
    fs.writeFileSync(file, pendingJobsText(depth, dir));
    const started = now();
    queuectl(['import', file], dir, undefined, env);
    fs.rmSync(file);
    log(`  PostgreSQL: ${depth} pending jobs imported in ${((now() - started) / 1000).toFixed(1)} s`);
  }
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  // Planner statistics, as autovacuum's analyze would have them on a queue this deep.
  await client.query('ANALYZE');
  // A range over the primary key: the poll costs an index probe however deep the queue is.
  const count = `SELECT count(*) FILTER (WHERE state IN ('pending', 'processing', 'failed')) AS unfinished,
                        count(*) FILTER (WHERE state IN ('dead', 'cancelled')) AS other
                   FROM queuectl_jobs WHERE id >= 'drain-' AND id < 'drain.'`;
  return {
    store: 'postgres',
    depth,
    dir,
    env,
    progress: async () => {
      const row = (await client.query<{ unfinished: string; other: string }>(count)).rows[0]!;
      return { unfinished: Number(row.unfinished), other: Number(row.other) };
    },
    close: async () => {
      await client.end();
      remove();
    },
  };
}

export interface CliSamples {
  enqueue: number[];
  status: number[];
  list: number[];
  node: number[];
}

/**
 * One round of the CLI figures on one case, each command beside a `node -e 0`. The enqueued job
 * waits an hour like the depth, so the drain that follows still runs only its batch.
 */
export function cliRound(c: DepthCase, round: number, into: CliSamples): void {
  into.node.push(timeNode(['-e', '0'], c.dir).ms);
  into.enqueue.push(queuectl(['enqueue', '--id', `cli-${pad(round)}`, '--delay', '1h', '--', 'true'], c.dir, undefined, c.env).ms);
  into.status.push(queuectl(['status'], c.dir, undefined, c.env).ms);
  const listed = queuectl(['list', '--limit', '50'], c.dir, undefined, c.env);
  into.list.push(listed.ms);
  if (!listed.stdout.includes('wait-')) throw new Error(`list --limit 50 on ${c.store} at ${c.depth} did not show the pending jobs:\n${listed.stdout.slice(0, 400)}`);
}

export function cliFigures(samples: CliSamples): Omit<DepthFigures, 'drain'> {
  return { enqueueMs: median(samples.enqueue), statusMs: median(samples.status), listMs: median(samples.list), nodeMs: median(samples.node) };
}

export interface DrainShape {
  jobs: number;
  supervisors: number;
  workers: number;
  budgetMs: number;
}

/**
 * `shape.jobs` × `true` enqueued in one `enqueue --file`, then drained by `supervisors` ×
 * `workers`, timed from spawning the supervisors to `c.progress()` finding none unfinished (or the budget
 * running out: the figure is then the jobs finished so far), bracketed by two bare spawn loops at
 * the same total concurrency.
 */
export async function drainCase(c: DepthCase, shape: DrainShape): Promise<DepthDrain> {
  const lines = Array.from({ length: shape.jobs }, (_, i) => `${JSON.stringify({ id: `drain-${pad(i)}`, command: 'true' })}\n`).join('');
  fs.writeFileSync(path.join(c.dir, 'drain.jsonl'), lines);
  queuectl(['enqueue', '--file', 'drain.jsonl'], c.dir, undefined, c.env);
  const concurrency = shape.supervisors * shape.workers;
  const bare = [await bareDrain(shape.jobs, concurrency, 'true', c.dir)];
  const supervisors: Supervisor[] = [];
  let left = shape.jobs;
  let other = 0;
  let ms = 0;
  try {
    const started = now();
    for (let i = 0; i < shape.supervisors; i++) supervisors.push(new Supervisor(c.dir, shape.workers, [], c.env));
    let lastLog = started;
    for (;;) {
      ({ unfinished: left, other } = await c.progress());
      ms = now() - started;
      if (left === 0 || ms > shape.budgetMs) break;
      const exited = supervisors.find((supervisor) => supervisor.exited);
      if (exited) throw new Error(`a supervisor exited during the drain:\n${exited.log}`);
      if (now() - lastLog > 10_000) {
        log(`  ${shape.jobs - left}/${shape.jobs} done after ${(ms / 1000).toFixed(0)} s`);
        lastLog = now();
      }
      await sleep(25);
    }
    await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
  } finally {
    for (const supervisor of supervisors) supervisor.kill();
  }
  bare.push(await bareDrain(shape.jobs, concurrency, 'true', c.dir));
  const done = shape.jobs - left;
  return { jobs: shape.jobs, done, ms, timedOut: left > 0, jobsPerSec: (done / ms) * 1000, bareJobsPerSec: (shape.jobs / mean(bare)) * 1000, other };
}

export interface DepthPlan {
  depths: number[];
  rounds: number;
  drain: DrainShape;
}

/**
 * Every depth of one store: filled first, then the CLI rounds taking each case once in turn (so
 * drift in the machine's load spreads over all depths alike), then one drain per depth.
 */
export async function depthFigures(open: (depth: number) => Promise<DepthCase>, plan: DepthPlan): Promise<Map<number, DepthFigures>> {
  const cases: DepthCase[] = [];
  try {
    for (const depth of plan.depths) cases.push(await open(depth));
    const samples = new Map(cases.map((c) => [c, { enqueue: [], status: [], list: [], node: [] } as CliSamples]));
    for (let round = 0; round < plan.rounds; round++) {
      for (const c of cases) cliRound(c, round, samples.get(c)!);
    }
    const figures = new Map<number, DepthFigures>();
    for (const c of cases) {
      log(`  drain of ${plan.drain.jobs} on ${c.store} with ${c.depth} pending…`);
      figures.set(c.depth, { ...cliFigures(samples.get(c)!), drain: await drainCase(c, plan.drain) });
    }
    return figures;
  } finally {
    for (const c of cases) await c.close();
  }
}
