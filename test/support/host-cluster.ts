/**
 * One queue in a fresh database of the hosts' PostgreSQL, for end-to-end scenarios across
 * simulated hosts (hosts.ts): supervisors started on a host (each host with a QUEUECTL_HOME of its
 * own, as on separate machines), jobs enqueued and listed from the test's own namespace, and the
 * soak's traced job commands (soak/history.ts), whose runs record their host and detect, by flock,
 * two runs of one job alive at once. The filesystem is shared by the hosts, so one history file
 * and one lock directory see every run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cleanEnv, queuectl, type Result } from './cli.ts';
import type { HostsContext } from './hosts.ts';
import { hostUrl } from './hosts.ts';
import type { Host, Hosts } from './netns.ts';
import { SupervisorProcess, trySignal } from './supervisor-proc.ts';
import { tempDir } from './tmp.ts';
import { waitFor } from './wait.ts';
import { check, type FinalJob, type Report } from '../soak/checker.ts';
import { HistoryWriter, readHistory, tracedJob, type Run } from '../soak/history.ts';

export type ListedJob = FinalJob & { owner: { host: string } | null; last_error: string | null };

export class HostCluster {
  readonly paths: { history: string; locks: string };
  readonly supervisors: SupervisorProcess[] = [];
  private readonly writer: HistoryWriter;
  readonly hostUrl: string;

  constructor(
    readonly hosts: Hosts,
    /** The database as the test's namespace reaches it (127.0.0.1). */
    readonly url: string,
    readonly dir: string,
    private readonly removeDir: () => void,
  ) {
    this.hostUrl = hostUrl(url, hosts);
    this.paths = { history: path.join(dir, 'history.log'), locks: path.join(dir, 'locks') };
    fs.mkdirSync(this.paths.locks);
    this.writer = new HistoryWriter(this.paths.history);
  }

  get a(): Host {
    return this.hosts.hosts[0]!;
  }

  get b(): Host {
    return this.hosts.hosts[1]!;
  }

  /** QUEUECTL_HOME of `host` (or of the test's own namespace): job logs stay there. */
  home(host: Host | null): string {
    return path.join(this.dir, `home-${host?.name ?? 'root'}`);
  }

  private env(host: Host | null, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return cleanEnv({ QUEUECTL_DATABASE_URL: host ? this.hostUrl : this.url, QUEUECTL_HOME: this.home(host), ...extra });
  }

  /** `queuectl worker start --count N` on `host`, in a session of its own. */
  start(host: Host, count: number, env: NodeJS.ProcessEnv = {}): SupervisorProcess {
    const child = this.hosts.spawn(host, process.execPath, [BIN, 'worker', 'start', '--count', String(count)], {
      cwd: this.dir,
      env: this.env(host, env),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const supervisor = new SupervisorProcess(child);
    this.supervisors.push(supervisor);
    return supervisor;
  }

  /** The CLI from the test's own namespace. */
  cli(args: string[], input?: string): Result {
    return queuectl(args, { cwd: this.dir, env: this.env(null), input });
  }

  /** The CLI on `host`, waiting for it to end (at most `timeout`). */
  cliOn(host: Host, args: string[], timeout = 60_000): Result {
    const result = this.hosts.spawnSync(host, process.execPath, [BIN, ...args], { cwd: this.dir, env: this.env(host), timeout, maxBuffer: 256 * 1024 * 1024 });
    return { status: result.status, stdout: result.stdout, stderr: `${result.stderr}${result.error ? result.error.message : ''}` };
  }

  /** A traced job command: `body` runs after `seconds` of sleep, under the job's flock. */
  command(id: string, body = 'true', seconds = 0): string {
    return tracedJob(id, this.paths, body, seconds);
  }

  /** Enqueues jobs in one batch, recording the attempt and its outcome in the history. */
  enqueue(jobs: readonly { id: string; command: string }[]): void {
    for (const job of jobs) this.writer.invoke(job.id);
    const input = jobs.map((job) => JSON.stringify({ max_retries: 3, ...job })).join('\n') + '\n';
    const result = this.cli(['enqueue', '--file', '-'], input);
    for (const job of jobs) this.writer.outcome(job.id, result.status, null, result.stdout.split('\n').map((line) => line.trim()));
    if (result.status !== 0) throw new Error(`enqueue exited ${result.status}: ${result.stderr}`);
  }

  /** Every job, from the database (`list --json`). */
  jobs(): ListedJob[] {
    const result = this.cli(['list', '--json']);
    if (result.status !== 0) throw new Error(`list --json exited ${result.status}: ${result.stderr}`);
    return JSON.parse(result.stdout) as ListedJob[];
  }

  job(id: string): ListedJob | undefined {
    return this.jobs().find((job) => job.id === id);
  }

  /** Supervisors whose lease is alive, as `status --json` lists them. */
  liveSupervisors(): { host: string; pid: number; heartbeat_at: string }[] {
    const result = this.cli(['status', '--json']);
    if (result.status !== 0) throw new Error(`status --json exited ${result.status}: ${result.stderr}`);
    return (JSON.parse(result.stdout) as { supervisors: { host: string; pid: number; heartbeat_at: string }[] }).supervisors;
  }

  /** Waits until `host`'s supervisor has renewed its lease after `since` (ms since the epoch): it is back in the queue. */
  async renewedAfter(host: Host, since: number, timeout = 20_000): Promise<void> {
    await waitFor(() => this.liveSupervisors().some((one) => one.host === host.name && Date.parse(one.heartbeat_at) > since), { timeout, what: `${host.name}'s supervisor to renew its lease` });
  }

  /** Runs of job `id` so far, oldest first; `host` of each from its run token. */
  runs(id: string): (Run & { host: string })[] {
    return (readHistory(this.paths.history).runs.get(id) ?? []).map((run) => ({ ...run, host: run.run.split('.')[0] ?? '' }));
  }

  /** The soak's checker over this queue's history and final state. */
  report(): Report {
    return check(readHistory(this.paths.history), this.jobs());
  }

  /** Kills every process on the hosts (supervisors, workers and jobs, stopped ones included), removes the directory. */
  close(): void {
    this.writer.close();
    for (const host of this.hosts.hosts) {
      for (let round = 0; round < 5; round++) {
        const left = this.hosts.pids(host);
        if (left.length === 0) break;
        for (const pid of left) trySignal(pid, 'SIGKILL');
      }
    }
    this.removeDir();
  }
}

/** A queue in a new database, with its own temp directory. */
export async function hostCluster({ hosts, server }: HostsContext): Promise<HostCluster> {
  const { dir, cleanup } = tempDir('queuectl-hosts-');
  return new HostCluster(hosts, await server.createDatabase(), fs.realpathSync(dir), cleanup);
}

/** What the checker found, as one message per kind, for an assertion. */
export function findings(report: Report): string {
  const kinds = ['lost', 'unexpected', 'duplicated', 'overlapping', 'stuck', 'phantom'] as const;
  return kinds.flatMap((kind) => report[kind].map((line) => `${kind}: ${line}`)).join('\n');
}
