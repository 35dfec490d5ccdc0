/**
 * uvu suites on a throwaway PostgreSQL server (postgres-server.ts). Use `pgSuite(name)` instead of
 * uvu's `suite(name)`: every pgSuite of a test file shares one server, started before the file's
 * first pgSuite runs and stopped after its last one, also when a test fails. With no server
 * binaries installed, the suites' tests are reported as skipped and the reason is printed once.
 */
import { suite, type Test } from 'uvu';
import { BINARIES, findServerBinaries, startPostgres, type PostgresServer } from './postgres-server.ts';
import { withClient } from './run-server.ts';

export type { PostgresServer } from './postgres-server.ts';

export interface PgContext {
  server: PostgresServer;
}

let shared: Promise<PostgresServer> | null = null;
let pending = 0;
let reasonPrinted = false;

/** The server every pgSuite of this test file uses, started on first use. */
function sharedServer(): Promise<PostgresServer> {
  if (shared === null) {
    shared = startPostgres();
    // The last resort when a file ends without its last suite's `after` (stop is synchronous,
    // as an 'exit' handler must be; the watchdog covers a process that is killed).
    shared.then((server) => process.on('exit', () => server.stop()), () => undefined);
  }
  return shared;
}

/**
 * A uvu suite whose tests get `{ server }` (unless `server: false`: a suite that needs the
 * binaries but starts its servers itself). Without PostgreSQL server binaries every test in it is
 * skipped (and counted so), with the reason printed once per test file.
 */
export function pgSuite(name: string, { server = true }: { server?: boolean } = {}): Test<PgContext> {
  const test = suite<PgContext>(name, {} as PgContext);
  if (findServerBinaries() === null) {
    if (!reasonPrinted) {
      reasonPrinted = true;
      process.stdout.write(`skipped: PostgreSQL tests, no server binaries (${BINARIES.join(', ')}) in pg_config --bindir, /usr/lib/postgresql/*/bin or PATH; install Debian's postgresql package\n`);
    }
    const skipping = Object.assign((testName: string, handler: Parameters<Test<PgContext>>[1]) => test.skip(testName, handler), test);
    return skipping as Test<PgContext>;
  }
  if (!server) return test;
  pending++;
  test.before(async (context) => {
    try {
      context.server = await sharedServer();
    } catch (error) {
      // uvu drops an error thrown by a `before` hook (its tests then count as failed, silently).
      process.stderr.write(`could not start PostgreSQL for ${name}: ${(error as Error).stack}\n`);
      throw error;
    }
  });
  test.after(async () => {
    // The last pgSuite of the file to finish stops the server.
    if (--pending === 0) (await shared)?.stop();
  });
  return test;
}

export { withClient };
