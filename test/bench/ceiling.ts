/**
 * The coordination ceiling: how many jobs a second K supervisor processes can claim and record
 * through the store's own turn operation, with execution replaced by a no-op inside this
 * benchmark only (as River and graphile-worker measure theirs). Each process claims up to
 * SLOTS jobs per turn and records them all as completed in its next turn, until a turn finds
 * nothing left. PostgreSQL on a throwaway server, then the file store.
 *
 *   node --import tsx test/bench/ceiling.ts            (BENCH_JOBS=20000 BENCH_FILE_JOBS=5000 BENCH_K=1,2,4,8,16)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Finished } from '../../src/lifecycle/dispatch.ts';
import { createJob, type Job, type Owner } from '../../src/lifecycle/job.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { HOST } from '../../src/system/proc.ts';
import { startPostgres } from '../support/postgres-server.ts';

/** Jobs claimed per turn by one process: what a supervisor of 2 workers with short runs asks for (2 × (1 + 16)). */
const SLOTS = 34;
const ENQUEUE_BATCH = 2_000;

const SELF = fileURLToPath(import.meta.url);

function storeAt(dir: string, url: string | null): Store {
  const env: NodeJS.ProcessEnv = { QUEUECTL_HOME: dir, ...(url && { QUEUECTL_DATABASE_URL: url }) };
  return openStore({ env, cwd: dir, now: () => new Date() });
}

function completedOf(job: Job): Finished {
  const at = new Date().toISOString();
  return { id: job.id, owner: job.owner as Owner, started_at: job.started_at as string, interrupted: false, result: { started_at: at, finished_at: at, exit_code: 0, signal: null, timed_out: false, stderr_tail: null } };
}

/** One process: turns until a turn records nothing and claims nothing. */
async function child(dir: string, url: string | null): Promise<void> {
  const store = storeAt(dir, url);
  await store.prepare();
  const self = { pid: process.pid, started: 'bench', host: HOST };
  const workers = Array.from({ length: SLOTS }, (_, i) => i + 1);
  let held: Job[] = [];
  let turns = 0;
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  for (;;) {
    let outcome;
    try {
      outcome = await store.turn({ finished: held.map(completedOf), interrupted: [], released: [], placed: [], self, workers, waiting: 0, holding: [], cron: null, broken: new Map() });
    } catch (error) {
      // As the supervisor does: a turn that failed (a deadlock with another) is taken again.
      process.stderr.write(`turn failed, again: ${(error as Error).message}\n`);
      continue;
    }
    turns++;
    if (held.length === 0 && outcome.claimed.length === 0) break;
    held = outcome.claimed;
  }
  await store.close();
  process.stdout.write(`turns ${turns}\n`);
}

async function fill(dir: string, url: string | null, count: number): Promise<void> {
  const store = storeAt(dir, url);
  await store.prepare();
  await store.updateConfig((config) => ({ config: { ...config, keep_finished: 1_000_000 }, result: null }));
  const now = new Date(Date.now() - 1_000);
  for (let from = 0; from < count; from += ENQUEUE_BATCH) {
    const jobs = Array.from({ length: Math.min(ENQUEUE_BATCH, count - from) }, (_, i) =>
      createJob({ id: `b${from + i}`, command: 'true', cwd: dir, max_retries: 1, priority: (from + i) % 3, run_at: now, timeout: null, no_retry_on: [] }, now),
    );
    await store.enqueue(jobs);
  }
  await store.close();
}

/** Starts K processes, lets them go at once, and times until every one has found nothing left. */
async function round(dir: string, url: string | null, k: number, count: number): Promise<{ ms: number; perSec: number; turns: number }> {
  await fill(dir, url, count);
  process.stderr.write(`  ${count} jobs enqueued; ${k} process${k === 1 ? '' : 'es'} starting\n`);
  const children = Array.from({ length: k }, () => spawn(process.execPath, ['--import', 'tsx', SELF, '--child', dir, url ?? ''], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const outputs = children.map(() => '');
  const ready = children.map(
    (c, i) =>
      new Promise<void>((resolve) =>
        c.stdout!.on('data', (chunk) => {
          outputs[i] += chunk;
          if (outputs[i]!.split('\n').includes('ready')) resolve();
        }),
      ),
  );
  await Promise.all(ready);
  const began = performance.now();
  for (const c of children) c.stdin!.end('go\n');
  await Promise.all(children.map((c) => new Promise((resolve) => c.on('close', resolve))));
  const ms = performance.now() - began;
  const turns = outputs.reduce((sum, text) => sum + Number(/turns (\d+)/.exec(text)?.[1] ?? 0), 0);
  const store = storeAt(dir, url);
  const done = (await store.readAllJobs()).filter((job) => job.state === 'completed').length;
  await store.close();
  if (done !== count) throw new Error(`K=${k}: ${done} of ${count} jobs completed`);
  return { ms, perSec: (count / ms) * 1000, turns };
}

async function main(): Promise<void> {
  const ks = (process.env.BENCH_K ?? '1,2,4,8,16').split(',').map(Number);
  const pgJobs = Number(process.env.BENCH_JOBS ?? 20_000);
  const fileJobs = Number(process.env.BENCH_FILE_JOBS ?? 5_000);
  const server = await startPostgres();
  const report: string[] = [`coordination ceiling: no-op jobs, ${SLOTS} slots per process, ${os.cpus().length} cores`];
  try {
    for (const k of ks) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-ceiling-'));
      const result = await round(dir, await server.createDatabase(), k, pgJobs);
      report.push(`postgres K=${k}: ${pgJobs} jobs in ${(result.ms / 1000).toFixed(2)} s = ${Math.round(result.perSec)} jobs/s (${result.turns} turns)`);
      process.stderr.write(`${report.at(-1)}\n`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    server.stop();
  }
  for (const k of ks) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-ceiling-'));
    const result = await round(dir, null, k, fileJobs);
    report.push(`file K=${k}: ${fileJobs} jobs in ${(result.ms / 1000).toFixed(2)} s = ${Math.round(result.perSec)} jobs/s (${result.turns} turns)`);
    process.stderr.write(`${report.at(-1)}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${report.join('\n')}\n`);
}

if (process.argv[2] === '--child') await child(process.argv[3] as string, process.argv[4] || null);
else await main();
