/**
 * One throwaway PostgreSQL server for a whole test run (test/run.mjs), instead of one per test
 * file: starting a cluster costs seconds, a database copied from a template a fraction of one.
 * The template holds queuectl's schema, migrated by queuectl's own `migrate`, so a scenario starts
 * where a first command would have left an empty database.
 */
import type { PoolClient } from 'pg';
import { openPool } from '../../src/store/postgres/connect.ts';
import { migrate } from '../../src/store/postgres/schema.ts';
import { RUN_SERVER_VARIABLE, startPostgres, type PostgresServer, type RunServer } from './postgres-server.ts';

const TEMPLATE = 'queuectl_template';

/** Runs `fn` with one connection to `url` (opened as queuectl opens it), closed afterwards. Here, not in postgres.ts, so that test/run.mjs does not load uvu. */
export async function withClient<T>(url: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const pool = await openPool(url, { max: 1 });
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
    await pool.end();
  }
}

/** Creates, on `server`, the migrated template database and returns its name. */
export async function createTemplate(server: PostgresServer): Promise<string> {
  const url = new URL(server.url);
  url.pathname = `/${TEMPLATE}`;
  await withClient(server.url, (client) => client.query(`CREATE DATABASE ${TEMPLATE}`));
  await withClient(url.toString(), (client) => migrate(client));
  // A template nobody can connect to: CREATE DATABASE … TEMPLATE refuses a template in use.
  await withClient(server.url, (client) => client.query(`ALTER DATABASE ${TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`));
  return TEMPLATE;
}

/** Starts the run's server and its template; `env` describes them to the test processes. */
export async function startRunServer(): Promise<RunServer & { env: Record<string, string> }> {
  const server = await startPostgres();
  try {
    const template = await createTemplate(server);
    const env = { [RUN_SERVER_VARIABLE]: JSON.stringify({ url: server.url, port: server.port, dir: server.dir, template }) };
    return { server, template, env };
  } catch (error) {
    server.stop();
    throw error;
  }
}
