/**
 * The real drains on PostgreSQL, on a throwaway server (test/support/postgres-server.ts, fsync
 * off) on this machine: `true` jobs drained by several supervisors at once (2 × 4 and 8 × 2
 * supervisors × workers), each on a fresh database, beside a bare spawn loop at the same total
 * concurrency; and the pickup latency of an idle supervisor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { drainCase, postgresCase, type DepthDrain, type DrainShape } from './depth.ts';
import { now, queuectl, sleep, Supervisor, temporary } from './procs.ts';

export interface PostgresFigures {
  drains: { shape: DrainShape; drain: DepthDrain }[];
  /** From `enqueue` returning to the job's own first instruction, an idle supervisor waiting. */
  pickupMs: number[];
}

export async function postgresFigures(shapes: DrainShape[], pickupRuns: number): Promise<PostgresFigures> {
  let server: PostgresServer | null = null;
  const { dir, remove } = temporary('queuectl-bench-pg-');
  try {
    server = await startPostgres();
    const drains: PostgresFigures['drains'] = [];
    for (const shape of shapes) {
      const c = await postgresCase(server, 0);
      try {
        drains.push({ shape, drain: await drainCase(c, shape) });
      } finally {
        await c.close();
      }
    }
    const pickupMs = await pickupOn(dir, { QUEUECTL_DATABASE_URL: await server.createDatabase() }, pickupRuns);
    return { drains, pickupMs };
  } finally {
    server?.stop();
    remove();
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
  const supervisor = new Supervisor(dir, 4, [], env);
  try {
    const warm = path.join(stamps, 'warm');
    queuectl(['enqueue', '--', `date +%s%N > ${warm}`], dir, undefined, env);
    await stampIn(warm, 30_000);
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(300);
      const file = path.join(stamps, `pick-${i}`);
      queuectl(['enqueue', '--', `date +%s%N > ${file}`], dir, undefined, env);
      const returned = Date.now();
      latencies.push((await stampIn(file)) - returned);
    }
    return latencies;
  } finally {
    await supervisor.stop();
  }
}
