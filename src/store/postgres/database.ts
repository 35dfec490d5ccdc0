/**
 * The client and the clock of the PostgreSQL store: one pool per process, opened (and the schema
 * migrated) on first use, and the database's clock as last measured. Times come from the
 * database: `now()` is this host's clock plus the offset to the database's, and leases are
 * compared with the database's `now()` in SQL, so hosts' clocks never decide.
 */
import type { Pool, PoolClient } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';
import { connectionError, openPool, parseTarget, describeTarget } from './connect.ts';
import { migrate } from './schema.ts';

/** A write refused by the fence: the transaction runs again on fresh rows. */
export class Fenced extends Error {}

/** A supervisor's id in queuectl_supervisors and in jobs' `claimed_by`. */
export function supervisorId(identity: { host: string; pid: number; started: string }): string {
  return `${identity.host}/${identity.pid}/${identity.started}`;
}

export class Database {
  private pool: Promise<Pool> | null = null;
  /** The database's clock minus this host's, as last measured. */
  offsetMs = 0;

  /** `hostNow`: this host's clock (a test may inject one: QUEUECTL_TEST_CLOCK); the offset corrects it. */
  constructor(
    readonly url: string,
    private readonly hostNow: () => Date,
  ) {}

  get where(): string {
    return describeTarget(parseTarget(this.url));
  }

  now(): Date {
    return new Date(this.hostNow().getTime() + this.offsetMs);
  }

  /** The pool, opened and the schema migrated on first use. */
  connect(): Promise<Pool> {
    this.pool ??= (async () => {
      const pool = await openPool(this.url);
      const client = await pool.connect();
      try {
        await migrate(client);
        await this.measureClock(client);
      } finally {
        client.release();
      }
      return pool;
    })();
    this.pool.catch(() => (this.pool = null));
    return this.pool;
  }

  async measureClock(client: PoolClient): Promise<Date> {
    const before = Date.now();
    const result = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    const after = Date.now();
    const now = result.rows[0]!.now;
    this.offsetMs = now.getTime() - (before + after) / 2;
    return now;
  }

  /** Runs `fn` on a pooled connection; a lost connection is an I/O error naming the server. */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.connect();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw connectionError(error, parseTarget(this.url));
    }
    // The driver reports a connection lost mid-query (a server restart) as an 'error' event on
    // the client as well as by failing the query: without a listener the event would end the process.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken: unknown = undefined;
    try {
      return await fn(client);
    } catch (error) {
      broken = error;
      throw connectionError(error, parseTarget(this.url));
    } finally {
      client.off('error', ignore);
      // A connection that failed is not given to the next transaction: the pool opens a new one.
      client.release(broken instanceof Error && !(broken instanceof QueueError) && !(broken instanceof Fenced) ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await (await pool.catch(() => null))?.end().catch(() => undefined);
  }
}
