/**
 * Simulated hosts on one machine: each host is a network namespace with a hostname of its own
 * (`unshare --uts`), joined by a veth pair to a bridge in the root namespace. The bridge holds
 * the root side's address (where a test's PostgreSQL listens); each host has one address on the
 * bridge's /24. The subnet is derived from this process's pid, so test files running at the same
 * time get different ones.
 *
 * `cut(host)` takes the bridge's port of that host down: packets are dropped both ways, with no
 * error, as when a cable is pulled, while the bridge keeps its address (a server restarted
 * meanwhile can still bind it). Processes, files and pids stay shared between hosts: only the
 * network and the hostname differ.
 *
 * Never leave a namespace behind: `destroy()` is synchronous (it works from an 'exit' handler),
 * and a watchdog process kills what runs in the hosts and removes them if the test process dies
 * without doing so (SIGKILL).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import os from 'node:os';

export interface Host {
  /** Its hostname inside (`host-a`, `host-b` …): what `os.hostname()` says there. */
  name: string;
  namespace: string;
  /** Its own address on the bridge. */
  address: string;
  /** The root side of its veth pair: the bridge port that `cut` takes down. */
  port: string;
}

export interface Hosts {
  hosts: Host[];
  /** The root namespace's address on the bridge: where servers for the hosts listen. */
  serverAddress: string;
  /** The bridge's subnet in CIDR form, for pg_hba.conf. */
  subnet: string;
  /** Starts a process on `host`, under its hostname; options as child_process.spawn. */
  spawn(host: Host, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** The same, waiting for it to end. */
  spawnSync(host: Host, command: string, args: readonly string[], options?: SpawnSyncOptions): SpawnSyncReturns<string>;
  /** Drops every packet between `host` and everything else, both ways. */
  cut(host: Host): void;
  restore(host: Host): void;
  /** Pids of every process running on `host`. */
  pids(host: Host): number[];
  /** Kills every process on the hosts and removes them; calling it again does nothing. */
  destroy(): void;
}

/** Runs `ip` (or another tool); throws with its stderr when it fails. */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr.trim()}`);
  return result.stdout;
}

function tryRun(command: string, args: readonly string[]): void {
  spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
}

let capability: string | null | undefined;

/**
 * Why simulated hosts cannot be made here, or null when they can: it needs root (or
 * CAP_NET_ADMIN and CAP_SYS_ADMIN), `ip` with netns support, and `unshare`.
 */
export function hostsUnavailable(): string | null {
  if (capability !== undefined) return capability;
  const probe = `queuectl-probe-${process.pid}`;
  try {
    if (process.getuid?.() !== 0) throw new Error('not running as root');
    run('ip', ['netns', 'add', probe]);
    try {
      run('ip', ['netns', 'exec', probe, 'unshare', '--uts', 'true']);
    } finally {
      tryRun('ip', ['netns', 'del', probe]);
    }
    capability = null;
  } catch (error) {
    capability = `cannot create network namespaces (${(error as Error).message.split('\n')[0]}); run as root on Linux with iproute2 and util-linux`;
  }
  return capability;
}

/**
 * A /24 of 10.128.0.0/9 chosen by pid, skipping any that an interface of this machine already
 * uses (a test file with a colliding pid, or the machine's own networks).
 */
function chooseSubnet(): string {
  const taken = run('ip', ['-o', '-4', 'addr', 'show']);
  const start = process.pid % 32768;
  for (let step = 0; step < 32768; step++) {
    const block = (start + step) % 32768;
    const prefix = `10.${128 + (block >> 8)}.${block & 0xff}`;
    if (!taken.includes(` ${prefix}.`)) return prefix;
  }
  throw new Error('no free /24 in 10.128.0.0/9 for simulated hosts');
}

/**
 * Kills what runs in `namespaces`, removes them and the bridge once process `pid` is gone. It
 * polls, because a process killed with SIGKILL runs no handler of its own.
 */
function startWatchdog(pid: number, namespaces: readonly string[], bridge: string): number | undefined {
  const teardown = namespaces.map((ns) => `for i in 1 2 3; do ip netns pids ${ns} 2>/dev/null | xargs -r kill -9; done; ip netns del ${ns}`).join('; ');
  const script = `while kill -0 ${pid} 2>/dev/null; do sleep 1; done; ${teardown}; ip link del ${bridge}`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Makes `count` hosts (`host-a` …); throws when hostsUnavailable() would say why. */
export function createHosts(count: number): Hosts {
  if (count < 1 || count > LETTERS.length) throw new Error(`createHosts: between 1 and ${LETTERS.length} hosts, not ${count}`);
  const reason = hostsUnavailable();
  if (reason !== null) throw new Error(reason);
  // Interface names hold at most 15 characters.
  const id = process.pid.toString(36);
  const bridge = `qb${id}`;
  const prefix = chooseSubnet();
  const hosts: Host[] = Array.from({ length: count }, (_, i) => ({
    name: `host-${LETTERS[i]}`,
    namespace: `queuectl-${process.pid}-${LETTERS[i]}`,
    address: `${prefix}.${10 + i}`,
    port: `qv${id}${LETTERS[i]}`,
  }));
  const watchdog = startWatchdog(process.pid, hosts.map((host) => host.namespace), bridge);
  let destroyed = false;

  const pids = (host: Host): number[] => {
    const result = spawnSync('ip', ['netns', 'pids', host.namespace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return result.stdout.split('\n').filter(Boolean).map(Number);
  };

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const host of hosts) {
      // A process may be forking while it is killed: kill until none is left.
      for (let round = 0; round < 5; round++) {
        const left = pids(host);
        if (left.length === 0) break;
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      tryRun('ip', ['netns', 'del', host.namespace]);
    }
    tryRun('ip', ['link', 'del', bridge]);
    if (watchdog !== undefined) {
      try {
        process.kill(watchdog, 'SIGKILL');
      } catch {
        // It noticed first.
      }
    }
  };

  try {
    // Leftovers of an earlier process that had this pid.
    tryRun('ip', ['link', 'del', bridge]);
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    for (const host of hosts) {
      tryRun('ip', ['netns', 'del', host.namespace]);
      const peer = `qp${id}${host.name.slice(-1)}`;
      run('ip', ['netns', 'add', host.namespace]);
      run('ip', ['link', 'add', host.port, 'type', 'veth', 'peer', 'name', peer]);
      run('ip', ['link', 'set', peer, 'netns', host.namespace]);
      run('ip', ['-n', host.namespace, 'link', 'set', peer, 'name', 'eth0']);
      run('ip', ['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', host.namespace, 'link', 'set', 'lo', 'up']);
      run('ip', ['link', 'set', host.port, 'master', bridge]);
      run('ip', ['link', 'set', host.port, 'up']);
    }
  } catch (error) {
    destroy();
    throw error;
  }

  // `ip netns exec` enters the namespace and execs; `unshare --uts` gives the host a hostname
  // of its own and execs; `sh` sets it and execs the command: the child's pid is the command's.
  const argv = (host: Host, command: string, args: readonly string[]) => ['netns', 'exec', host.namespace, 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', host.name, command, ...args];

  return {
    hosts,
    serverAddress: `${prefix}.1`,
    subnet: `${prefix}.0/24`,
    spawn: (host, command, args, options = {}) => spawn('ip', argv(host, command, args), options),
    spawnSync: (host, command, args, options = {}) => spawnSync('ip', argv(host, command, args), { encoding: 'utf8', ...options }) as SpawnSyncReturns<string>,
    cut: (host) => run('ip', ['link', 'set', host.port, 'down']),
    restore: (host) => {
      run('ip', ['link', 'set', host.port, 'up']);
      // Neighbour entries that failed while the link was cut would answer "no route to host"
      // for a few seconds more: forget them, as a host does when its link comes back.
      tryRun('ip', ['-n', host.namespace, 'neigh', 'flush', 'dev', 'eth0']);
      tryRun('ip', ['neigh', 'flush', 'to', host.address]);
    },
    pids,
    destroy,
  };
}

/** Names of the network namespaces that exist now (`ip netns list`). */
export function namespaces(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** This machine's hostname, for telling a host's apart from it. */
export const rootHostname = os.hostname();
