/**
 * The PostgreSQL rows of `npm run bench`, on a throwaway server (test/support/postgres-server.ts)
 * on this machine: a drain by two supervisors of 4 workers each, beside the same drain on the
 * file store and a bare spawn loop at the same concurrency; and `enqueue` wall time, beside the
 * file store's and `node -e 0`. Each drain gets a fresh database or directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { bareDrain, benchEnv, now, ROOT, sleep, temporary, timeNode } from './procs.ts';
import { mean, median } from './stats.ts';

const BIN = () => path.join(ROOT, 'dist', 'main.js');

export interface StoreDrain {
  ms: number;
  jobsPerSec: number;
  bareJobsPerSec: number;
}

export interface PostgresFigures {
  postgres: StoreDrain;
  file: StoreDrain;
  /** From `enqueue` returning to the job's own first instruction, an idle supervisor waiting. */
  pickupMs: number[];
  enqueue: { postgresMs: number; fileMs: number; nodeMs: number };
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [BIN(), ...args], { cwd, env: { ...benchEnv(), ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`queuectl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

function startSupervisor(cwd: string, count: number, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BIN(), 'worker', 'start', '--count', String(count)], { cwd, env: { ...benchEnv(), ...env }, detached: true, stdio: 'ignore' });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 30_000);
          child.once('exit', () => clearTimeout(timer));
          child.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * `jobs` × `true` drained by `supervisors` × `workers`, timed from spawning the supervisors until
 * `unfinished()` reads 0, bracketed by two bare loops at the same total concurrency.
 */
async function drainWith(dir: string, env: NodeJS.ProcessEnv, jobs: number, supervisors: number, workers: number, unfinished: () => Promise<number>): Promise<StoreDrain> {
  const lines = Array.from({ length: jobs }, (_, i) => `${JSON.stringify({ id: `pg-${String(i).padStart(6, '0')}`, command: 'true' })}\n`).join('');
  fs.writeFileSync(path.join(dir, 'jobs.jsonl'), lines);
  run(['enqueue', '--file', 'jobs.jsonl'], dir, env);
  const bare = [await bareDrain(jobs, supervisors * workers, 'true', dir)];
  const started = now();
  const children = Array.from({ length: supervisors }, () => startSupervisor(dir, workers, env));
  try {
    while ((await unfinished()) > 0) {
      if (now() - started > 120_000) throw new Error(`the drain did not finish in 120 s`);
      await sleep(20);
    }
  } finally {
    await stopAll(children);
  }
  const ms = now() - started;
  bare.push(await bareDrain(jobs, supervisors * workers, 'true', dir));
  return { ms, jobsPerSec: (jobs / ms) * 1000, bareJobsPerSec: (jobs / mean(bare)) * 1000 };
}

export async function postgresFigures(jobs: number, runs: number): Promise<PostgresFigures> {
  let server: PostgresServer | null = null;
  const { dir, remove } = temporary('queuectl-bench-pg-');
  // Apart: a supervisor on PostgreSQL makes .queuectl/ for its logs, which store discovery would find from below.
  const { dir: fileDir, remove: removeFile } = temporary('queuectl-bench-file-');
  try {
    server = await startPostgres();
    const { Client } = await import('pg');
    const url = await server.createDatabase();
    const client = new Client({ connectionString: url });
    await client.connect();
    const env = { QUEUECTL_DATABASE_URL: url };
    let postgres: StoreDrain;
    try {
      postgres = await drainWith(dir, env, jobs, 2, 4, async () => {
        const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM queuectl_jobs WHERE state NOT IN ('completed', 'dead', 'cancelled')`);
        return Number(result.rows[0]!.n);
      });
    } finally {
      await client.end();
    }
    const file = await drainWith(fileDir, {}, jobs, 2, 4, async () => {
      const doc = JSON.parse(fs.readFileSync(path.join(fileDir, '.queuectl', 'jobs.json'), 'utf8')) as { jobs: { state: string }[] };
      return doc.jobs.filter((job) => !['completed', 'dead', 'cancelled'].includes(job.state)).length;
    });

    const enqueueUrl = await server.createDatabase();
    run(['status'], dir, { QUEUECTL_DATABASE_URL: enqueueUrl });
    const times = { postgres: [] as number[], file: [] as number[], node: [] as number[] };
    for (let i = 0; i < runs; i++) {
      times.node.push(timeNode(['-e', '0'], dir).ms);
      const a = now();
      run(['enqueue', '--', 'true'], dir, { QUEUECTL_DATABASE_URL: enqueueUrl });
      times.postgres.push(now() - a);
      const b = now();
      run(['enqueue', '--', 'true'], fileDir, {});
      times.file.push(now() - b);
    }
    const pickupMs = await pickupOn(dir, { QUEUECTL_DATABASE_URL: await server.createDatabase() }, runs);
    return { postgres, file, pickupMs, enqueue: { postgresMs: median(times.postgres), fileMs: median(times.file), nodeMs: median(times.node) } };
  } finally {
    server?.stop();
    remove();
    removeFile();
  }
}

/** The wall time a job wrote with `date +%s%N` into `file`, once it is there. */
async function stampIn(file: string, timeoutMs = 10_000): Promise<number> {
  const until = now() + timeoutMs;
  for (;;) {
    try {
      const text = fs.readFileSync(file, 'utf8').trim();
      if (text) return Number(BigInt(text) / 1000n) / 1000;
    } catch {
      // Not written yet.
    }
    if (now() > until) throw new Error(`no stamp in ${file} after ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** Pickup latency on PostgreSQL: an idle supervisor with 4 workers, woken by LISTEN/NOTIFY. */
async function pickupOn(dir: string, env: NodeJS.ProcessEnv, samples: number): Promise<number[]> {
  const stamps = path.join(dir, 'stamps');
  fs.mkdirSync(stamps, { recursive: true });
  const supervisor = startSupervisor(dir, 4, env);
  try {
    const warm = path.join(stamps, 'warm');
    run(['enqueue', '--', `date +%s%N > ${warm}`], dir, env);
    await stampIn(warm, 30_000);
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(300);
      const file = path.join(stamps, `pick-${i}`);
      run(['enqueue', '--', `date +%s%N > ${file}`], dir, env);
      const returned = Date.now();
      latencies.push((await stampIn(file)) - returned);
    }
    return latencies;
  } finally {
    await stopAll([supervisor]);
  }
}
