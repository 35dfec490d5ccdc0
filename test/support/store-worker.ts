/**
 * A child process for the store tests: real OS processes contending for one store.
 *
 *   append HOME PREFIX COUNT   COUNT transactions, each appending job PREFIX-i
 *   add HOME ID                one transaction appending job ID (pair it with QUEUECTL_FAILPOINTS)
 *   hold HOME                  takes the lock, prints "held", then waits to be killed
 *   race HOME GO TRIALS HOLD   for each trial: waits for the file GO.<trial> (it holds a start
 *                              time), acquires the lock at that time, holds it HOLD ms and prints
 *                              the hold interval as one JSON line
 *
 * Times are milliseconds of the machine-wide monotonic clock (preciseNow), with sub-millisecond
 * precision, comparable across processes.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock } from '../../src/store/file/lock.ts';
import type { StoreContext } from '../../src/store/file/file-store.ts';
import { appendJob, preciseNow as now, storeContext } from './store-context.ts';

async function waitForFile(file: string): Promise<string> {
  for (;;) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      await sleep(5);
    }
  }
}

async function race(ctx: StoreContext, go: string, trials: number, holdMs: number): Promise<void> {
  process.stdout.write('ready\n');
  for (let trial = 1; trial <= trials; trial++) {
    const startAt = Number(await waitForFile(`${go}.${trial}`));
    await sleep(Math.max(0, startAt - now() - 3));
    while (now() < startAt);
    const lock = await acquireLock(ctx.home.jobs, ctx.home.lock, { timeoutMs: 20_000 });
    const start = now();
    await sleep(holdMs);
    const end = now();
    await lock.release();
    process.stdout.write(`${JSON.stringify({ trial, pid: process.pid, start, end })}\n`);
  }
}

async function main(): Promise<void> {
  const [command, dir, ...args] = process.argv.slice(2);
  if (!command || !dir) throw new Error('usage: store-worker.ts COMMAND HOME ...');
  const ctx = storeContext(dir);
  if (command === 'append') {
    for (let i = 0; i < Number(args[1]); i++) await appendJob(ctx, `${args[0]}-${i}`);
  } else if (command === 'add') {
    await appendJob(ctx, String(args[0]));
  } else if (command === 'hold') {
    fs.mkdirSync(dir, { recursive: true });
    await acquireLock(ctx.home.jobs, ctx.home.lock, { timeoutMs: 10_000 });
    process.stdout.write('held\n');
    setInterval(() => undefined, 60_000);
    return;
  } else if (command === 'race') {
    await race(ctx, String(args[0]), Number(args[1]), Number(args[2]));
  } else {
    throw new Error(`unknown command ${command}`);
  }
  process.stdout.write('done\n');
}

await main();
