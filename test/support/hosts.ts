/**
 * uvu suites on simulated hosts (netns.ts) that share a throwaway PostgreSQL server listening on
 * the hosts' bridge (postgres-server.ts). Use `hostsSuite(name)` instead of uvu's `suite(name)`:
 * every hostsSuite of a test file shares the hosts and the server, made before the file's first
 * hostsSuite runs and removed after its last one, also when a test fails. Without root (or network
 * namespaces) or without PostgreSQL server binaries, the suites' tests are reported as skipped
 * and the reason is printed once.
 */
import { suite, type Test } from 'uvu';
import { createHosts, hostsUnavailable, type Hosts } from './netns.ts';
import { BINARIES, findServerBinaries, startPostgres, urlAt, type PostgresServer } from './postgres-server.ts';

export interface HostsContext {
  hosts: Hosts;
  server: PostgresServer;
}

/** How many hosts every file's suites share. */
export const HOST_COUNT = 2;

let shared: Promise<HostsContext> | null = null;
let pending = 0;
let reasonPrinted = false;

function sharedWorld(): Promise<HostsContext> {
  if (shared === null) {
    shared = (async () => {
      const hosts = createHosts(HOST_COUNT);
      // The last resort when a file ends without its last suite's `after` (both are
      // synchronous; their watchdogs cover a process that is killed).
      process.on('exit', () => hosts.destroy());
      try {
        const server = await startPostgres({ listen: { addresses: [hosts.serverAddress], subnets: [hosts.subnet] } });
        process.on('exit', () => server.stop());
        return { hosts, server };
      } catch (error) {
        hosts.destroy();
        throw error;
      }
    })();
  }
  return shared;
}

/** Why the suites cannot run here, or null. */
export function hostsSkipReason(): string | null {
  const netns = hostsUnavailable();
  if (netns !== null) return netns;
  if (findServerBinaries() === null) return `no PostgreSQL server binaries (${BINARIES.join(', ')}) in pg_config --bindir, /usr/lib/postgresql/*/bin or PATH; install Debian's postgresql package`;
  return null;
}

/** A uvu suite whose tests get `{ hosts, server }`, or whose tests are all skipped, with the reason printed once. */
export function hostsSuite(name: string): Test<HostsContext> {
  const test = suite<HostsContext>(name, {} as HostsContext);
  const reason = hostsSkipReason();
  if (reason !== null) {
    if (!reasonPrinted) {
      reasonPrinted = true;
      process.stdout.write(`skipped: simulated-host tests, ${reason}\n`);
    }
    const skipping = Object.assign((testName: string, handler: Parameters<Test<HostsContext>>[1]) => test.skip(testName, handler), test);
    return skipping as Test<HostsContext>;
  }
  pending++;
  test.before(async (context) => {
    try {
      Object.assign(context, await sharedWorld());
    } catch (error) {
      // uvu drops an error thrown by a `before` hook (its tests then count as failed, silently).
      process.stderr.write(`could not make hosts and PostgreSQL for ${name}: ${(error as Error).stack}\n`);
      throw error;
    }
  });
  test.after(async () => {
    if (--pending > 0) return;
    const world = await shared;
    world?.server.stop();
    world?.hosts.destroy();
  });
  return test;
}

/** A database URL of the server as the hosts reach it: by the bridge, not by 127.0.0.1. */
export function hostUrl(url: string, hosts: Hosts): string {
  return urlAt(url, hosts.serverAddress);
}
