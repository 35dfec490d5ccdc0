/**
 * The soak's clients: enqueuers that run `queuectl enqueue` one after another (a single job,
 * or a batch through `--file -`), each with its own seeded stream of jobs. Most jobs succeed;
 * some always fail, some fail once, some always overrun their timeout. Every invocation is
 * recorded in the history before it starts and with its outcome after it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from '../support/cli.ts';
import { soakEnv, type Backend } from './backend.ts';
import { tracedJob, type HistoryWriter } from './history.ts';
import type { Rng } from './prng.ts';

export const JOB_KINDS = { ok: 80, failing: 10, flaky: 7, overrun: 3 } as const;
export type JobKind = keyof typeof JOB_KINDS;

/** Every job gets this many attempts: a failing job is dead after one retry (1 s backoff). */
export const MAX_RETRIES = 2;
/** An enqueue that has not ended by then is killed (the lock timeout is 30 s). */
const ENQUEUE_LIMIT_MS = 45_000;

export interface World {
  dir: string;
  tag: string;
  history: HistoryWriter;
  backend: Backend;
  paths: { history: string; locks: string; flags: string };
}

export interface Spec {
  id: string;
  kind: JobKind;
  command: string;
  timeout: string | null;
}

export function jobSpec(world: World, id: string, kind: JobKind, random: Rng): Spec {
  // Mostly tiny jobs, so that supervisors claim jobs ahead, to wait for a free worker (they do while runs are short).
  const roll = random.next();
  const seconds = kind === 'overrun' ? 3 : roll < 0.65 ? random.between(0, 0.01) : roll < 0.93 ? random.between(0.02, 0.3) : random.between(0.5, 2);
  const body =
    kind === 'failing' ? '(exit 3)'
    : kind === 'flaky' ? `if [ -e ${world.paths.flags}/${id} ]; then true; else touch ${world.paths.flags}/${id}; (exit 3); fi`
    : 'true';
  return { id, kind, command: tracedJob(id, world.paths, body, seconds), timeout: kind === 'overrun' ? '1s' : null };
}

export class Enqueuer {
  /** The `queuectl enqueue` running now, if any: a target for the nemesis. */
  current: ChildProcess | null = null;
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private count = 0;
  readonly kinds: Record<JobKind, number> = { ok: 0, failing: 0, flaky: 0, overrun: 0 };

  constructor(
    private readonly world: World,
    readonly name: string,
    private readonly random: Rng,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  /** Lets the enqueue in flight finish (its outcome is recorded), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
  }

  private nextSpecs(): Spec[] {
    const size = this.random.chance(0.2) ? this.random.int(2, 4) : 1;
    return Array.from({ length: size }, () => {
      const kind = this.random.weighted(JOB_KINDS);
      this.kinds[kind]++;
      return jobSpec(this.world, `${this.name}-${String(++this.count).padStart(5, '0')}`, kind, this.random);
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const specs = this.nextSpecs();
      await this.enqueue(specs);
      await sleep(this.random.between(100, 400));
    }
  }

  /** One `queuectl enqueue` for these jobs: all of them get the same outcome (a batch is all or nothing). */
  async enqueue(specs: readonly Spec[]): Promise<void> {
    const args =
      specs.length === 1 ?
        ['enqueue', '--id', specs[0]!.id, '--max-retries', String(MAX_RETRIES), ...(specs[0]!.timeout ? ['--timeout', specs[0]!.timeout] : []), '--', specs[0]!.command]
      : ['enqueue', '--file', '-'];
    const input = specs.length === 1 ? '' : specs.map(({ id, command, timeout }) => JSON.stringify({ id, command, max_retries: MAX_RETRIES, ...(timeout ? { timeout } : {}) })).join('\n') + '\n';
    for (const spec of specs) this.world.history.invoke(spec.id);
    const child = spawn(process.execPath, [BIN, ...args], { cwd: this.world.dir, env: soakEnv(this.world.backend, this.world.tag), stdio: ['pipe', 'pipe', 'pipe'] });
    this.current = child;
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    const limit = setTimeout(() => child.kill('SIGKILL'), ENQUEUE_LIMIT_MS);
    const { status, signal } = await new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, sig) => resolve({ status: code, signal: sig })),
    );
    clearTimeout(limit);
    this.current = null;
    const printed = stdout.split('\n').map((line) => line.trim()).filter(Boolean);
    for (const spec of specs) this.world.history.outcome(spec.id, status, signal, printed);
    if (status !== 0) fs.appendFileSync(path.join(this.world.dir, 'enqueue-errors.log'), `${specs.map((spec) => spec.id).join(',')} ${signal ?? `exit ${status}`}: ${stderr.trim()}\n`);
  }
}

export function worldPaths(dir: string): World['paths'] {
  return { history: path.join(dir, 'history.log'), locks: path.join(dir, 'locks'), flags: path.join(dir, 'flags') };
}
