/**
 * The PostgreSQL schema, created and migrated by queuectl itself: numbered migrations, the
 * applied ones recorded in `queuectl_schema`, all of them applied in one transaction under an
 * advisory lock, so that several supervisors starting at once against an empty database are safe:
 * one migrates, the others wait for it and then find nothing left to do.
 */
import type { ClientBase } from 'pg';
import { QueueError } from '../../lifecycle/error.ts';
import { DATABASE_URL_VARIABLE, inTransaction } from './connect.ts';
import { HOT_PATH } from './hot-path.ts';

export interface Migration {
  /** 1, 2, 3 …: a migration, once released, never changes; a new one gets the next number. */
  version: number;
  description: string;
  sql: string;
}

/**
 * Jobs are stored whole, as `doc jsonb` in the shape of a job in jobs.json, so that the lifecycle
 * functions read and return the same objects on both stores and `export` is a plain copy. The
 * columns that SQL must filter and sort on (id, state, priority, run_at) are generated from `doc`
 * by the database itself, so they can never disagree with it; a generated column needs an
 * immutable expression, and a cast to timestamptz is only stable (it depends on the session's
 * DateStyle and TimeZone for ambiguous input), so `queuectl_time` declares the one unambiguous
 * form queuectl writes (`2026-01-01T00:00:00.000Z`) immutable. `seq` keeps creation order, the
 * tie-break of the claim order. The claim's lease (`claimed_by`, `lease_until`) is the store's
 * fact about a job, not the job's, so it lives in columns beside `doc`, outside the job object.
 */
const JOBS_CONFIG_SUPERVISORS = `
CREATE FUNCTION queuectl_time(text) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS 'SELECT $1::timestamptz';

CREATE TABLE queuectl_jobs (
  seq bigserial NOT NULL UNIQUE,
  id text PRIMARY KEY GENERATED ALWAYS AS (doc->>'id') STORED,
  state text NOT NULL GENERATED ALWAYS AS (doc->>'state') STORED,
  priority integer NOT NULL GENERATED ALWAYS AS ((doc->>'priority')::integer) STORED,
  run_at timestamptz NOT NULL GENERATED ALWAYS AS (queuectl_time(doc->>'run_at')) STORED,
  claimed_by text,
  lease_until timestamptz,
  doc jsonb NOT NULL CHECK (jsonb_typeof(doc) = 'object')
);

-- The claim order: due jobs (pending or failed, run_at passed), higher priority first, then older.
CREATE INDEX queuectl_jobs_due ON queuectl_jobs (priority DESC, seq) INCLUDE (run_at)
  WHERE state IN ('pending', 'failed');

-- Recovery looks for processing jobs whose lease has run out.
CREATE INDEX queuectl_jobs_leases ON queuectl_jobs (lease_until) WHERE state = 'processing';

CREATE TABLE queuectl_config (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);

-- One row per running supervisor: its heartbeat renews lease_until; a stop request is a flag
-- here plus a notification. Jobs name their supervisor in claimed_by without a foreign key: a
-- supervisor's row may go while its jobs' leases still decide what happens to them.
CREATE TABLE queuectl_supervisors (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz NOT NULL,
  count integer NOT NULL,
  phase text NOT NULL,
  stop_requested boolean NOT NULL DEFAULT false
);
`;

/**
 * The store itself: finished jobs beyond keep_finished stay as rows marked `archived` (out of
 * every transaction's read, still found by list and show); queue settings and schedules live in
 * `queuectl_meta` as the same JSON as jobs.json's top-level keys; a stop request may ask to force.
 */
const STORE = `
ALTER TABLE queuectl_jobs ADD COLUMN archived boolean NOT NULL DEFAULT false;
CREATE INDEX queuectl_jobs_live ON queuectl_jobs (seq) WHERE NOT archived;

CREATE TABLE queuectl_meta (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);

ALTER TABLE queuectl_supervisors ADD COLUMN cwd text NOT NULL DEFAULT '';
ALTER TABLE queuectl_supervisors ADD COLUMN stop_force boolean NOT NULL DEFAULT false;
`;

/**
 * What the display reads need (postgres/reads.ts): the queue as a column, and an index per order
 * a list can take, led by the state, so a page of any state is read in order and cut; the counts
 * are an index-only scan of a narrow index. Only columns that already exist or `queue` are used, so
 * these apply whatever shape migration 3 gave the table.
 */
const READS = `
ALTER TABLE queuectl_jobs ADD COLUMN IF NOT EXISTS queue text NOT NULL GENERATED ALWAYS AS (coalesce(doc->>'queue', 'default')) STORED;
CREATE INDEX IF NOT EXISTS queuectl_jobs_counts ON queuectl_jobs (archived, state, queue);
CREATE INDEX IF NOT EXISTS queuectl_jobs_run_order ON queuectl_jobs (state, priority DESC, archived DESC, seq);
CREATE INDEX IF NOT EXISTS queuectl_jobs_recent ON queuectl_jobs (state, queuectl_time(doc->>'updated_at') DESC, archived, seq DESC);
CREATE INDEX IF NOT EXISTS queuectl_jobs_newest ON queuectl_jobs (state, archived, seq DESC);
CREATE INDEX IF NOT EXISTS queuectl_jobs_next_due ON queuectl_jobs (run_at, seq) WHERE state IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS queuectl_jobs_ran ON queuectl_jobs (queuectl_time(doc->>'updated_at')) WHERE jsonb_array_length(doc->'history') > 0;
CREATE INDEX IF NOT EXISTS queuectl_jobs_dependents ON queuectl_jobs (seq) WHERE state IN ('pending', 'failed') AND doc ? 'after';
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'jobs, config and supervisors', sql: JOBS_CONFIG_SUPERVISORS },
  { version: 2, description: 'archived jobs, queue settings and schedules, forced stops', sql: STORE },
  { version: 3, description: 'claim index, queue rows, dependency counts', sql: HOT_PATH },
  { version: 4, description: 'the queue column and the indexes of the display reads', sql: READS },
];

/** Any fixed number: every queuectl process that migrates takes this same lock. ('qctl' in ASCII.) */
const MIGRATION_LOCK = 0x7163746c;

export interface Migrated {
  /** The schema version found, 0 for an empty database. */
  from: number;
  /** The schema version left; equal to `from` when there was nothing to do. */
  to: number;
}

/** The version of queuectl's schema in this database; 0 when it has none. */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const table = await client.query<{ exists: boolean }>(`SELECT to_regclass('queuectl_schema') IS NOT NULL AS exists`);
  if (!table.rows[0]?.exists) return 0;
  const result = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM queuectl_schema');
  return result.rows[0]?.version ?? 0;
}

function refuseNewer(found: number, known: number): void {
  if (found > known) {
    throw new QueueError(
      'invalid-input',
      `this database holds queuectl schema version ${found}, newer than this queuectl knows (${known}); upgrade queuectl on this host, or point ${DATABASE_URL_VARIABLE} at another database`,
    );
  }
}

/**
 * Brings the schema up to the newest migration. The common case (already current) costs two
 * small queries and takes no lock; otherwise every missing migration is applied in one
 * transaction, so a failure leaves the database as it was.
 */
export async function migrate(client: ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<Migrated> {
  const latest = migrations.at(-1)?.version ?? 0;
  const found = await schemaVersion(client);
  refuseNewer(found, latest);
  if (found === latest) return { from: found, to: found };
  return inTransaction(client, async () => {
    // Held until COMMIT: a process that waited here sees the schema its predecessor committed.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS queuectl_schema (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const current = await schemaVersion(client);
    refuseNewer(current, latest);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO queuectl_schema (version, description) VALUES ($1, $2)', [migration.version, migration.description]);
    }
    return { from: current, to: latest };
  });
}
