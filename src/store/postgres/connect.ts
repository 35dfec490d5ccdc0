/**
 * Connections to the PostgreSQL store, named by `QUEUECTL_DATABASE_URL`. The `pg` driver is
 * imported on first use, so the commands of the file store never load it.
 */
import type { ClientBase, Pool } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';

export const DATABASE_URL_VARIABLE = 'QUEUECTL_DATABASE_URL';

/**
 * How long to wait for a connection before saying the database is unreachable: a host that drops
 * packets would otherwise hang a command for the OS's TCP timeout (about two minutes).
 */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The server ends a session that sits in an open transaction this long. queuectl's transactions
 * only run queries and pure functions, so this never cuts one short; it frees the row locks of a
 * process stopped mid-transaction (SIGSTOP, a hung host), which `SKIP LOCKED` would otherwise
 * leave unclaimed for as long as its connection stays up.
 */
const IDLE_IN_TRANSACTION_MS = 30_000;

/** The URL the environment asks for, or null when the queue lives in the file store. */
export function databaseUrl(env: NodeJS.ProcessEnv): string | null {
  const url = env[DATABASE_URL_VARIABLE]?.trim();
  return url ? url : null;
}

export interface Target {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** What the URL points at, without its password: safe for every message. */
export function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QueueError('invalid-input', `${DATABASE_URL_VARIABLE} is not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new QueueError('invalid-input', `${DATABASE_URL_VARIABLE} must start with postgres:// or postgresql://, not ${parsed.protocol}//; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
  }
  const socket = parsed.searchParams.get('host');
  return {
    host: parsed.hostname || socket || 'localhost',
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || 'postgres',
    user: decodeURIComponent(parsed.username),
  };
}

export function describeTarget(target: Target): string {
  return `database "${target.database}" at ${target.host}:${target.port}`;
}

// PostgreSQL's SQLSTATEs for a login that the server turned away.
const LOGIN_REFUSED: Record<string, string> = {
  '28P01': 'the password was refused',
  '28000': 'the login was refused (pg_hba.conf)',
  '3D000': 'the database does not exist',
  '53300': 'the server has no free connection slots',
  '57P03': 'the server is starting up or shutting down',
};

/**
 * The QueueError for a failure to connect: exit 74 with the host and port it tried, never the
 * password. Anything that is not a connection failure comes back unchanged.
 */
export function connectionError(error: unknown, target: Target): unknown {
  if (error instanceof QueueError) return error;
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const where = describeTarget(target);
  if (code && LOGIN_REFUSED[code]) {
    const as = target.user ? ` as user "${target.user}"` : '';
    return new QueueError('io-error', `cannot use the ${where}${as}: ${LOGIN_REFUSED[code]} (${message}); check ${DATABASE_URL_VARIABLE}`);
  }
  // Node's socket and DNS errors (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, EAI_AGAIN …), the
  // server's connection failures (SQLSTATE class 08) and its shutdowns (57P01–57P03: a restart).
  const network = code && (/^E[A-Z_]+$/.test(code) || /^08/.test(code) || /^57P0[123]$/.test(code));
  if (network || /timeout|terminat|Connection ended/i.test(message ?? '')) {
    return new QueueError('io-error', `cannot reach the PostgreSQL ${where}: ${code ?? message}; check ${DATABASE_URL_VARIABLE} and that the server runs and accepts connections`);
  }
  return error;
}

/**
 * A pool for `url`, checked by one round trip so that a wrong URL fails here, with a clear
 * message, and not in the middle of the first transaction.
 */
export async function openPool(url: string, { max = 4 }: { max?: number } = {}): Promise<Pool> {
  const target = parseTarget(url);
  const { Pool } = await import('pg');
  const pool = new Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    keepAlive: true,
    application_name: 'queuectl',
  });
  // An idle connection that the server drops is discarded by the pool; without a listener the
  // 'error' event would crash the process.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw connectionError(error, target);
  }
  return pool;
}

/** BEGIN … COMMIT on a connection the caller holds; any error rolls back and comes out as it was. */
export async function inTransaction<C extends ClientBase, T>(client: C, fn: (client: C) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
