/**
 * Where the soak's queue lives, and what that changes: how a supervisor is started, how the
 * final state and the leftovers are read, which faults the nemesis draws.
 *
 * - `file` (the default): one `.queuectl/` that every process shares on this machine; the
 *   sampler reads jobs.json mid-run, and the end checks the files left behind.
 * - `postgres`: a throwaway PostgreSQL server and one simulated host per supervisor slot
 *   (network namespaces, see test/support/netns.ts), each supervisor with a QUEUECTL_HOME of its
 *   own on its host; enqueues, `list` and `worker stop` run in the soak's own namespace. The
 *   nemesis adds what only hosts have: SIGSTOP past the lease, a cut link, a server restart.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cleanEnv, queuectl } from '../support/cli.ts';
import { createHosts, hostsUnavailable, type Host, type Hosts } from '../support/netns.ts';
import { findServerBinaries, startPostgres, urlAt, type PostgresServer } from '../support/postgres-server.ts';
import type { FinalJob } from './checker.ts';

export const BACKENDS = ['file', 'postgres'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Starts `queuectl ARGS` for supervisor slot `slot` (0-based). */
export type Launcher = (slot: number, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface Backend {
  name: BackendName;
  /** Added to the environment of every queuectl the soak runs in its own namespace. */
  env: NodeJS.ProcessEnv;
  launch: Launcher;
  /** The host of slot `slot`, if supervisors run on simulated hosts. */
  hostOf(slot: number): Host | null;
  hosts: Hosts | null;
  server: PostgresServer | null;
  /** Reads the queue now and then during the run: every read must see a whole, valid snapshot. */
  startSampler(problems: string[]): { stop: () => void; count: () => number };
  /** Jobs not yet completed or dead, or null if the queue cannot be read right now. */
  unfinished(): number | null;
  finalJobs(problems: string[]): FinalJob[];
  /** What a healthy queue looks like once everything has stopped: what is wrong with it. */
  leftovers(): string[];
  close(): void;
}

const direct: Launcher = (_slot, args, options) => spawn(process.execPath, [BIN, ...args], options);

/** `list --json` in the soak's namespace, parsed; problems are reported, not thrown. */
function listJobs(dir: string, env: NodeJS.ProcessEnv, problems: string[]): FinalJob[] | null {
  const listed = queuectl(['list', '--json'], { cwd: dir, env });
  if (listed.status !== 0) {
    problems.push(`queuectl list --json exited ${listed.status}: ${listed.stderr.trim()}`);
    return null;
  }
  try {
    const jobs = JSON.parse(listed.stdout) as unknown;
    if (!Array.isArray(jobs)) throw new Error('not an array');
    return jobs as FinalJob[];
  } catch (error) {
    problems.push(`queuectl list --json printed something that is not a JSON array: ${(error as Error).message}`);
    return null;
  }
}

const isUnfinished = (job: { state: string }) => job.state !== 'completed' && job.state !== 'dead';

export function fileBackend(dir: string): Backend {
  const home = path.join(dir, '.queuectl');
  return {
    name: 'file',
    env: {},
    launch: direct,
    hostOf: () => null,
    hosts: null,
    server: null,
    startSampler(problems) {
      let samples = 0;
      const timer = setInterval(() => {
        let text: string;
        try {
          text = fs.readFileSync(path.join(home, 'jobs.json'), 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`jobs.json could not be read mid-run: ${(error as Error).message}`);
          return;
        }
        samples++;
        try {
          const doc = JSON.parse(text) as { version?: unknown; jobs?: unknown };
          if (doc.version !== 1 || !Array.isArray(doc.jobs)) throw new Error('not a version 1 document with a jobs array');
        } catch (error) {
          problems.push(`jobs.json read mid-run is damaged (${text.length} bytes, starting ${JSON.stringify(text.slice(0, 60))}): ${(error as Error).message}`);
        }
      }, 150);
      return { stop: () => clearInterval(timer), count: () => samples };
    },
    unfinished() {
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(home, 'jobs.json'), 'utf8')) as { jobs: { state: string }[] };
        return doc.jobs.filter(isUnfinished).length;
      } catch {
        return null;
      }
    },
    finalJobs(problems) {
      const byId = new Map<string, FinalJob>();
      const archive = path.join(home, 'archive.jsonl');
      if (fs.existsSync(archive)) {
        for (const line of fs.readFileSync(archive, 'utf8').split('\n').filter(Boolean)) {
          try {
            const job = JSON.parse(line) as FinalJob;
            byId.set(job.id, job);
          } catch (error) {
            problems.push(`archive.jsonl holds a damaged line: ${(error as Error).message}`);
          }
        }
      }
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(home, 'jobs.json'), 'utf8')) as { jobs: FinalJob[] };
        for (const job of doc.jobs) byId.set(job.id, job);
      } catch (error) {
        problems.push(`the final jobs.json cannot be read: ${(error as Error).message}`);
      }
      listJobs(dir, {}, problems);
      return [...byId.values()];
    },
    leftovers() {
      const found: string[] = [];
      const names = fs.existsSync(home) ? fs.readdirSync(home) : [];
      for (const name of names.filter((entry) => entry.includes('.next'))) found.push(`a staging or temp file was left behind: ${name}`);
      for (const name of ['lock', 'lock.takeover']) if (names.includes(name)) found.push(`the ${name} directory is still there after every process stopped`);
      const pidFiles = fs.existsSync(path.join(home, 'supervisors')) ? fs.readdirSync(path.join(home, 'supervisors')) : [];
      if (pidFiles.length > 0) found.push(`PID files left after worker stop: ${pidFiles.join(', ')}`);
      for (const name of names.filter((entry) => entry.endsWith('.json'))) {
        try {
          JSON.parse(fs.readFileSync(path.join(home, name), 'utf8'));
        } catch (error) {
          found.push(`${name} does not parse at the end: ${(error as Error).message}`);
        }
      }
      return found;
    },
    close: () => undefined,
  };
}

/** Why the postgres soak cannot run here, or null. */
export function postgresUnavailable(): string | null {
  if (findServerBinaries() === null) return 'no PostgreSQL server binaries (initdb, pg_ctl, postgres) are installed';
  return hostsUnavailable();
}

/** A throwaway server and `count` hosts; both are removed by close() (or their watchdogs). */
export async function postgresBackend(dir: string, count: number): Promise<Backend> {
  const hosts = createHosts(count);
  let server: PostgresServer;
  try {
    server = await startPostgres({ listen: { addresses: [hosts.serverAddress], subnets: [hosts.subnet] } });
  } catch (error) {
    hosts.destroy();
    throw error;
  }
  const url = await server.createDatabase();
  const env = { QUEUECTL_DATABASE_URL: url, QUEUECTL_HOME: path.join(dir, 'home-soak') };
  const hostOf = (slot: number) => hosts.hosts[slot % hosts.hosts.length]!;
  return {
    name: 'postgres',
    env,
    launch: (slot, args, options) => {
      const host = hostOf(slot);
      const hostEnv = { ...options.env, QUEUECTL_DATABASE_URL: urlAt(url, hosts.serverAddress), QUEUECTL_HOME: path.join(dir, `home-${host.name}`) };
      return hosts.spawn(host, process.execPath, [BIN, ...args], { ...options, env: hostEnv });
    },
    hostOf,
    hosts,
    server,
    startSampler(problems) {
      // `list --json` is a whole process: once every two seconds is enough to see a torn read.
      let samples = 0;
      const timer = setInterval(() => {
        const seen: string[] = [];
        if (listJobs(dir, env, seen) !== null) samples++;
        // The server restarts and the links break on purpose: a refusal (exit 74) is expected, anything else is not.
        for (const line of seen) if (!/exited 74:/.test(line)) problems.push(`mid-run: ${line}`);
      }, 2_000);
      return { stop: () => clearInterval(timer), count: () => samples };
    },
    unfinished() {
      const jobs = listJobs(dir, env, []);
      return jobs === null ? null : jobs.filter(isUnfinished).length;
    },
    finalJobs: (problems) => listJobs(dir, env, problems) ?? [],
    leftovers() {
      const found: string[] = [];
      const status = queuectl(['status', '--json'], { cwd: dir, env });
      if (status.status !== 0) found.push(`status --json exited ${status.status} at the end: ${status.stderr.trim()}`);
      else {
        const doc = JSON.parse(status.stdout) as { supervisors?: unknown[] };
        if (Array.isArray(doc.supervisors) && doc.supervisors.length > 0) found.push(`status lists ${doc.supervisors.length} supervisors after worker stop: ${JSON.stringify(doc.supervisors)}`);
      }
      return found;
    },
    close() {
      server.stop();
      hosts.destroy();
    },
  };
}

/** The environment of a queuectl run by the soak in its own namespace. */
export function soakEnv(backend: Backend, tag: string): NodeJS.ProcessEnv {
  return cleanEnv({ SOAK_TAG: tag, ...backend.env });
}
