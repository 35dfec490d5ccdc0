/**
 * One end-to-end scenario's world: a fresh temp directory used as cwd (so the store is
 * <tmp>/.queuectl), the built CLI run inside it, the supervisors it started, and a cleanup that
 * leaves nothing running even when the test failed. Every process it starts carries
 * E2E_SANDBOX=<dir> in its environment, inherited by workers and jobs (even orphaned ones), so
 * the cleanup finds them all without knowing who spawned whom.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'uvu';
import type { Job } from '../../src/lifecycle/job.ts';
import { cleanEnv, queuectl, readJobsFile, type Result } from './cli.ts';
import { isAlive, processesWithEnv, RunWatch, startSupervisor, SupervisorProcess, trySignal } from './supervisor-proc.ts';
import { tempDir } from './tmp.ts';
import { BACKEND, freshDatabase, postgresMissing, type Backend, type Database } from './backend.ts';
import { waitFor } from './wait.ts';

/**
 * How often waitJob and waitJobs read the jobs. On PostgreSQL each read is a psql process (tens of
 * milliseconds of CPU): polling as often as a file read would take a core from the processes
 * under test on a 2-core machine. A tenth of a second late is far inside every wait's deadline.
 */
const POLL_MS: Record<Backend, number> = { file: 20, postgres: 100 };

/** Sandboxes not yet closed: if the test process exits early, their processes die with it. */
const unclosed = new Set<Sandbox>();
process.on('exit', () => {
  for (const sandbox of unclosed) sandbox.killAll();
});

export class Sandbox {
  readonly dir: string;
  readonly home: string;
  private readonly removeDir: () => void;
  readonly supervisors: SupervisorProcess[] = [];
  private readonly others: ChildProcess[] = [];
  private readonly watches: RunWatch[] = [];
  /** The scenario's own database when the suite runs on PostgreSQL. */
  db: Database | null = null;

  constructor() {
    const { dir, cleanup } = tempDir('queuectl-e2e-');
    this.dir = fs.realpathSync(dir);
    this.home = path.join(this.dir, '.queuectl');
    this.removeDir = cleanup;
    unclosed.add(this);
  }

  get tag(): string {
    return this.dir;
  }

  /** On PostgreSQL: a fresh database for this scenario. */
  async prepare(backend: Backend = BACKEND): Promise<void> {
    if (backend === 'postgres') this.db = await freshDatabase();
  }

  /** What every process of this sandbox gets in its environment. */
  get env(): NodeJS.ProcessEnv {
    return { E2E_SANDBOX: this.tag, ...(this.db ? { QUEUECTL_DATABASE_URL: this.db.url } : {}) };
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  q(...args: string[]): Result {
    return queuectl(args, { cwd: this.dir, env: this.env });
  }

  /** Runs a command that must succeed; returns its stdout. */
  ok(...args: string[]): string {
    const result = this.q(...args);
    if (result.status !== 0) throw new Error(`queuectl ${args.join(' ')} exited ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    return result.stdout;
  }

  json<T>(...args: string[]): T {
    return JSON.parse(this.ok(...args)) as T;
  }

  /** Adds jobs through `enqueue --file`, one JSON spec per line, in one transaction. */
  enqueue(...specs: Record<string, unknown>[]): void {
    const file = this.path(`specs-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
    fs.writeFileSync(file, specs.map((spec) => JSON.stringify(spec)).join('\n') + '\n');
    this.ok('enqueue', '--file', file);
  }

  jobs(): Job[] {
    return this.db ? this.db.jobs() : (readJobsFile(this.dir).jobs as unknown as Job[]);
  }

  job(id: string): Job {
    const found = this.jobs().find((job) => job.id === id);
    if (!found) throw new Error(`no job ${id} in the store`);
    return found;
  }

  async waitJob(id: string, predicate: (job: Job) => boolean, what: string, timeout = 10_000): Promise<Job> {
    return waitFor(
      () => {
        const job = this.job(id);
        return predicate(job) ? job : null;
      },
      { timeout, what: `job ${id} ${what}`, interval: this.pollMs },
    );
  }

  async waitJobs(predicate: (jobs: Job[]) => boolean, what: string, timeout = 10_000): Promise<Job[]> {
    return waitFor(
      () => {
        const jobs = this.jobs();
        return predicate(jobs) ? jobs : null;
      },
      { timeout, what, interval: this.pollMs },
    );
  }

  private get pollMs(): number {
    return POLL_MS[this.db ? 'postgres' : 'file'];
  }

  /** Starts `worker start --count N` in its own session and waits until it has registered. */
  async start(count = 1, env: NodeJS.ProcessEnv = {}): Promise<SupervisorProcess> {
    const supervisor = startSupervisor({ cwd: this.dir, count, env: { ...this.env, ...env } });
    this.supervisors.push(supervisor);
    await supervisor.waitLog(new RegExp(`supervisor ${supervisor.pid} started with ${count} worker`));
    return supervisor;
  }

  pidFile(pid: number): string {
    return path.join(this.home, 'supervisors', `${pid}.json`);
  }

  /**
   * Whether process `pid` (a `wait`, a `status --watch`) has read the queue and now waits for
   * changes: it watches the store directory (inotify), or LISTENs on PostgreSQL.
   */
  waitsForChanges(pid: number): boolean {
    if (this.db) return this.db.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'queuectl listen ${Number(pid)}'`).trim() !== '0';
    try {
      return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify';
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  /** The phase the store records for supervisor `pid` (its PID file, or its row), or null when it is not registered. */
  registeredPhase(pid: number): string | null {
    if (this.db) return this.db.sql(`SELECT phase FROM queuectl_supervisors WHERE pid = ${Number(pid)}`).trim() || null;
    try {
      return (JSON.parse(fs.readFileSync(this.pidFile(pid), 'utf8')) as { phase?: string }).phase ?? 'running';
    } catch {
      return null;
    }
  }

  /** Starts an unrelated process (not queuectl), killed at cleanup. */
  spawnOther(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { cwd: this.dir, env: cleanEnv(this.env), stdio: 'ignore' });
    this.others.push(child);
    return child;
  }

  watchRuns(): RunWatch {
    const watch = new RunWatch(this.tag);
    this.watches.push(watch);
    return watch;
  }

  /** What to look at when a scenario fails. */
  report(): string {
    const tail = (log: string) => {
      const lines = log.split('\n');
      return lines.length > 60 ? `(${lines.length - 60} earlier lines not shown)\n${lines.slice(-60).join('\n')}` : log;
    };
    const logs = this.supervisors.map((s) => `--- supervisor ${s.pid} (exit ${JSON.stringify(s.exit)}) log:\n${tail(s.log)}`).join('\n');
    let jobs = '';
    try {
      const all = this.jobs();
      const shown = all.length > 30 ? all.filter((job) => job.state !== 'completed') : all;
      if (shown.length < all.length) jobs = `(${all.length - shown.length} completed jobs not shown)\n`;
      jobs += shown
        .map((job) => `${job.id} ${job.state} attempts=${job.attempts} recoveries=${job.recoveries} last_error=${JSON.stringify(job.last_error)}`)
        .join('\n');
    } catch (error) {
      jobs = String(error);
    }
    return `\n=== sandbox ${this.dir}\n${logs}\n--- jobs:\n${jobs}\n`;
  }

  /** SIGKILLs, synchronously, every process group and straggler this sandbox started. */
  killAll(): void {
    for (const supervisor of this.supervisors) if (supervisor.running) supervisor.signalGroup('SIGKILL');
    for (const child of this.others) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) trySignal(child.pid, 'SIGKILL');
    for (const pid of processesWithEnv('E2E_SANDBOX', this.tag)) trySignal(pid, 'SIGKILL');
  }

  /** Kills everything this sandbox started (groups first, then any straggler carrying its tag), then removes the directory. */
  async close(): Promise<void> {
    for (const watch of this.watches) watch.stop();
    this.killAll();
    try {
      await waitFor(
        () => {
          const left = processesWithEnv('E2E_SANDBOX', this.tag);
          for (const pid of left) trySignal(pid, 'SIGKILL');
          return left.length === 0 && this.supervisors.every((s) => !s.running || !isAlive(s.pid));
        },
        { timeout: 10_000, interval: 50, what: `every process of sandbox ${this.dir} to exit` },
      );
    } finally {
      unclosed.delete(this);
      if (!process.env.E2E_KEEP) this.removeDir();
    }
  }
}

export interface ScenarioOptions {
  /**
   * The stores the scenario is about; by default both. A scenario about the file store itself
   * (jobs.json edited by hand, PID files) is not run on PostgreSQL, and is not counted there.
   */
  backends?: readonly Backend[];
  /** Runs the scenario on this store whatever the suite's store is (a test about PostgreSQL itself). */
  on?: Backend;
}

/**
 * A uvu test with a fresh sandbox that is cleaned up whatever happens; a failure (or
 * E2E_VERBOSE=1) prints the supervisors' logs, and E2E_KEEP=1 keeps the directory. On
 * PostgreSQL without a server installed, it is reported as skipped.
 */
export function scenario(test: Test, name: string, body: (sandbox: Sandbox) => Promise<void>, options: ScenarioOptions = {}): void {
  const backend = options.on ?? BACKEND;
  if (!options.on && !(options.backends ?? ['file', 'postgres']).includes(BACKEND)) return;
  const missing = backend === 'postgres' ? postgresMissing() : null;
  if (missing) {
    if (!reasonGiven) process.stdout.write(`skipped: the PostgreSQL runs of this file: ${missing}\n`);
    reasonGiven = true;
    test.skip(name, async () => undefined);
    return;
  }
  test(name, async () => {
    const sandbox = new Sandbox();
    try {
      await sandbox.prepare(backend);
      await body(sandbox);
      if (process.env.E2E_VERBOSE) process.stderr.write(sandbox.report());
    } catch (error) {
      process.stderr.write(sandbox.report());
      throw error;
    } finally {
      await sandbox.close();
    }
  });
}

let reasonGiven = false;
