/**
 * A child process for the PostgreSQL tests: real OS processes racing on one database. Each one
 * connects, prints "ready", waits for a line on stdin (so that all of them start at once), then:
 *
 *   migrate URL            migrates; prints {"from":…,"to":…}
 *   claim URL NAME BATCH   claims BATCH jobs at a time until none is due; prints {"ids":[…]} per
 *                          claim; the owner is this process (host NAME, worker 1…BATCH)
 *
 * and prints "done". An error is printed as {"error": message, "code": …} with exit status 1.
 */
import readline from 'node:readline';
import { QueueError } from '../../src/lifecycle/error.ts';
import type { Owner } from '../../src/lifecycle/job.ts';
import { openPool } from '../../src/store/postgres/connect.ts';
import { claimDue } from '../../src/store/postgres/jobs.ts';
import { migrate } from '../../src/store/postgres/schema.ts';

const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

async function go(): Promise<void> {
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
}

async function main(): Promise<void> {
  const [command, url, ...args] = process.argv.slice(2);
  if (!command || !url) throw new Error('usage: postgres-worker.ts migrate|claim URL ...');
  const pool = await openPool(url, { max: 1 });
  const client = await pool.connect();
  try {
    print('ready');
    await go();
    if (command === 'migrate') {
      print(await migrate(client));
    } else if (command === 'claim') {
      const [name = 'claimer', batch = '1'] = args;
      const owners: Owner[] = Array.from({ length: Number(batch) }, (_, index) => ({ pid: process.pid, started: 'test', host: name, worker: index + 1 }));
      for (;;) {
        const claimed = await claimDue(client, owners, { supervisor: name, seconds: 30 });
        if (claimed.length === 0) break;
        print({ ids: claimed.map((job) => job.id) });
      }
    } else {
      throw new Error(`unknown command ${command}`);
    }
    print('done');
  } finally {
    client.release();
    await pool.end();
  }
}

try {
  await main();
} catch (error) {
  print({ error: (error as Error).message, code: error instanceof QueueError ? error.code : null });
  process.exitCode = 1;
}
