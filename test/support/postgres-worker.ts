/**
 * A child process for the PostgreSQL tests: real OS processes racing on one database. Each one
 * connects, prints "ready", waits for a line on stdin (so that all of them start at once), then:
 *
 *   migrate URL            migrates; prints {"from":…,"to":…}
 *   claim URL NAME BATCH   claims up to BATCH due jobs per transaction, as a supervisor's turn
 *                          does (PostgresStore.transact with the pure pickDue and claimJob),
 *                          until none is due; prints {"ids":[…]} per claim; the owner is this
 *                          process (host NAME, worker 1…BATCH)
 *
 * and prints "done". An error is printed as {"error": message, "code": …} with exit status 1.
 */
import os from 'node:os';
import readline from 'node:readline';
import { QueueError } from '../../src/lifecycle/error.ts';
import type { Owner } from '../../src/lifecycle/job.ts';
import { claimJob } from '../../src/lifecycle/transition.ts';
import { pickDue } from '../../src/lifecycle/start-order.ts';
import { resolveHome } from '../../src/store/home.ts';
import { openPool } from '../../src/store/postgres/connect.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { migrate } from '../../src/store/postgres/schema.ts';

const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

async function go(): Promise<void> {
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
}

async function migrateCommand(url: string): Promise<void> {
  const pool = await openPool(url, { max: 1 });
  const client = await pool.connect();
  try {
    print('ready');
    await go();
    print(await migrate(client));
  } finally {
    client.release();
    await pool.end();
  }
}

async function claimCommand(url: string, name: string, batch: number): Promise<void> {
  const env = { QUEUECTL_DATABASE_URL: url };
  // Job logs would go under this home; nothing here runs a job, so nothing is written there.
  const cwd = os.tmpdir();
  const store = new PostgresStore(url, resolveHome(env, cwd), { env, cwd, now: () => new Date() });
  try {
    await store.readJobs();
    print('ready');
    await go();
    const owners: Owner[] = Array.from({ length: batch }, (_, index) => ({ pid: process.pid, started: 'test', host: name, worker: index + 1 }));
    for (;;) {
      const ids = await store.transact((doc) => {
        const now = store.now();
        const claimed = new Map(pickDue(doc.jobs, now, batch).map((job, index) => [job.id, claimJob(job, owners[index]!, now)]));
        doc.jobs = doc.jobs.map((job) => claimed.get(job.id) ?? job);
        return [...claimed.keys()];
      });
      if (ids.length === 0) break;
      print({ ids });
    }
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const [command, url, ...args] = process.argv.slice(2);
  if (!command || !url) throw new Error('usage: postgres-worker.ts migrate|claim URL ...');
  if (command === 'migrate') await migrateCommand(url);
  else if (command === 'claim') await claimCommand(url, args[0] ?? 'claimer', Number(args[1] ?? '1'));
  else throw new Error(`unknown command ${command}`);
  print('done');
}

try {
  await main();
} catch (error) {
  print({ error: (error as Error).message, code: error instanceof QueueError ? error.code : null });
  process.exitCode = 1;
}
