/**
 * The display reads in SQL: counts are aggregates over an index, pages are ordered and cut by the
 * database, metrics are computed over the jobs that ran in the last hour, so that `status` and
 * `list --limit` cost what they show, not what the queue holds. The indexes are migration 4.
 */
import type { PoolClient } from 'pg';
import { ACTIVITY_MINUTES, type Activity, type Window } from '../../lifecycle/activity.ts';
import { STATES, type Job, type State } from '../../lifecycle/job.ts';
import type { Queues } from '../../lifecycle/queue.ts';
import type { Schedule } from '../../lifecycle/schedule.ts';
import { inTransaction } from './connect.ts';
import { decodeJob } from './jobs.ts';
import { mayBeArchived, type DependencyWaits, type JobCounts, type JobOrder, type JobQuery, type NextJobs, type StoreReads } from '../reads.ts';

type WithClient = <T>(fn: (client: PoolClient) => Promise<T>) => Promise<T>;

/** Rows fetched from the cursor of `streamJobs` at a time. */
const BATCH = 500;

/** Attempts finish on a host's clock, jobs are updated on the database's: this much skew is allowed for. */
const CLOCK_SLACK = `interval '10 minutes'`;

/** Each order, over the columns every branch of a page selects; each matches an index of migration 4 after the state. */
const ORDER: Record<JobOrder, string> = {
  created: 'archived DESC, seq',
  run: 'priority DESC, archived DESC, seq',
  recent: `queuectl_time(doc->>'updated_at') DESC, archived, seq DESC`,
  newest: 'archived, seq DESC',
};

const zero = (): Record<State, number> => Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;

/** States come from the fixed list, so they may be written into the statement: a partial index then applies. */
const literal = (state: State) => `'${STATES.includes(state) ? state : 'none'}'`;

/**
 * A statement for the jobs `query` selects, in its order. With a bound on the rows wanted it is a
 * union of one branch per state, each cut to that bound over the state's ordered index, so that
 * a page costs its offset and length, whatever the depth.
 */
function pageStatement(query: JobQuery, rows: number | undefined, params: unknown[]): string {
  const states = query.states ?? STATES;
  const filters: string[] = [];
  if (!mayBeArchived(query.states)) filters.push('NOT archived');
  if (query.queue) filters.push(`queue = $${params.push(query.queue)}`);
  if (query.text) {
    const needle = `$${params.push(query.text.toLowerCase())}`;
    filters.push(`(strpos(lower(id), ${needle}) > 0 OR strpos(lower(doc->>'command'), ${needle}) > 0)`);
  }
  const where = (state: string) => [state, ...filters].join(' AND ');
  const order = ORDER[query.order];
  if (rows === undefined) return `SELECT doc FROM queuectl_jobs WHERE ${where(`state IN (${states.map(literal).join(', ')})`)} ORDER BY ${order}`;
  const cut = `$${params.push(rows)}`;
  const branches = states.map((state) => `(SELECT doc, priority, archived, seq FROM queuectl_jobs WHERE ${where(`state = ${literal(state)}`)} ORDER BY ${order} LIMIT ${cut})`);
  return `SELECT doc FROM (${branches.join(' UNION ALL ')}) AS page ORDER BY ${order}`;
}

export class PostgresReads implements StoreReads {
  constructor(private readonly withClient: WithClient) {}

  private async jobs(sql: string, params: unknown[] = []): Promise<Job[]> {
    return this.withClient(async (client) => (await client.query<{ doc: unknown }>(sql, params)).rows.map((row) => decodeJob(row.doc)));
  }

  async countJobs(): Promise<JobCounts> {
    const rows = await this.withClient(async (client) => (await client.query<{ archived: boolean; state: State; queue: string; n: number }>('SELECT archived, state, queue, count(*)::int AS n FROM queuectl_jobs GROUP BY 1, 2, 3')).rows);
    const states = zero();
    const queues: JobCounts['queues'] = {};
    for (const { archived, state, queue, n } of rows) {
      if (!STATES.includes(state)) continue;
      if (archived) {
        if (state === 'completed' || state === 'cancelled') states[state] += n;
        continue;
      }
      states[state] += n;
      (queues[queue] ??= zero())[state] += n;
    }
    return { states, queues };
  }

  async processingJobs(): Promise<Job[]> {
    return this.jobs(`SELECT doc FROM queuectl_jobs WHERE state = 'processing' AND NOT archived ORDER BY seq`);
  }

  async nextJobs(now: Date): Promise<NextJobs> {
    const waiting = `state IN ('pending', 'failed') AND NOT archived`;
    const [start] = await this.jobs(`SELECT doc FROM queuectl_jobs WHERE ${waiting} AND run_at <= $1 ORDER BY priority DESC, seq LIMIT 1`, [now.toISOString()]);
    const [soonest] = await this.jobs(`SELECT doc FROM queuectl_jobs WHERE ${waiting} ORDER BY run_at, seq LIMIT 1`);
    return { start: start ?? null, soonest: soonest ?? null };
  }

  /** A dependency that is not live (archived, or gone) has completed, as the lifecycle's `waitingFor` reads it. */
  async dependencyWaits(limit: number): Promise<DependencyWaits> {
    const row = await this.withClient(async (client) =>
      (
        await client.query<DependencyWaits>(
          `WITH waits AS (
             SELECT j.seq, j.id AS job, array_agg(a.dep ORDER BY a.n) AS waiting_for
               FROM queuectl_jobs AS j
               CROSS JOIN LATERAL jsonb_array_elements_text(j.doc->'after') WITH ORDINALITY AS a(dep, n)
               JOIN queuectl_jobs AS d ON d.id = a.dep AND NOT d.archived AND d.state <> 'completed'
              WHERE j.state IN ('pending', 'failed') AND j.doc ? 'after' AND NOT j.archived
              GROUP BY j.seq, j.id)
           SELECT (SELECT count(*)::int FROM waits) AS total,
                  (SELECT coalesce(json_agg(json_build_object('job', job, 'waiting_for', waiting_for) ORDER BY seq), '[]')
                     FROM (SELECT * FROM waits ORDER BY seq LIMIT $1) AS first) AS jobs`,
          [limit],
        )
      ).rows[0]!,
    );
    return { jobs: row.jobs, total: row.total };
  }

  async activity(now: Date): Promise<Activity> {
    const row = await this.withClient((client) =>
      inTransaction(client, async () => {
        // The planner cannot see how few jobs ran lately and would compile the query (JIT) and
        // start parallel workers for it: hundreds of milliseconds for a scan of a few rows.
        await client.query('SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0');
        return (await client.query<ActivityRow>(ACTIVITY, [now.toISOString()])).rows[0]!;
      }),
    );
    const minutes = Array.from({ length: ACTIVITY_MINUTES }, (): Window => ({ completed: 0, failed: 0 }));
    for (const [age, completed, failed] of row.minutes) minutes[ACTIVITY_MINUTES - 1 - age] = { completed, failed };
    const nullable = (value: string | null) => (value === null ? null : Number(value));
    return {
      metrics: {
        last_minute: { completed: row.minute_completed, failed: row.minute_failed },
        last_hour: { completed: row.hour_completed, failed: row.hour_failed },
        mean_duration_ms: nullable(row.mean),
        p95_duration_ms: nullable(row.p95),
      },
      minutes,
    };
  }

  async queueSettings(): Promise<{ queues: Queues; schedules: Schedule[] }> {
    // Queue settings are a row per queue (claims lock them); schedules are one JSON value.
    const row = await this.withClient(async (client) =>
      (
        await client.query<{ queues: Queues | null; schedules: Schedule[] | null }>(
          `SELECT (SELECT jsonb_object_agg(name, jsonb_build_object('parallel', parallel, 'paused', paused) ORDER BY name) FROM queuectl_queues) AS queues,
                  (SELECT value FROM queuectl_meta WHERE key = 'schedules') AS schedules`,
        )
      ).rows[0],
    );
    return { queues: row?.queues ?? {}, schedules: row?.schedules ?? [] };
  }

  async pageJobs(query: JobQuery, { offset, limit }: { offset: number; limit?: number }): Promise<Job[]> {
    const params: unknown[] = [];
    const sql = pageStatement(query, limit === undefined ? undefined : offset + limit, params);
    const cut = `${limit === undefined ? '' : ` LIMIT $${params.push(limit)}`} OFFSET $${params.push(offset)}`;
    return this.jobs(`${sql}${cut}`, params);
  }

  async countMatching(query: JobQuery): Promise<number> {
    const params: unknown[] = [];
    const sql = pageStatement({ ...query, order: 'newest' }, undefined, params);
    return this.withClient(async (client) => (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) AS matching`, params)).rows[0]!.n);
  }

  /** A cursor in a read-only transaction: one snapshot, read a batch at a time. */
  async streamJobs(query: JobQuery, limit: number | undefined, each: (jobs: readonly Job[]) => void): Promise<void> {
    const params: unknown[] = [];
    const sql = `${pageStatement(query, limit, params)}${limit === undefined ? '' : ` LIMIT $${params.push(limit)}`}`;
    await this.withClient((client) =>
      inTransaction(client, async () => {
        await client.query('SET TRANSACTION READ ONLY');
        await client.query(`DECLARE listed NO SCROLL CURSOR FOR ${sql}`, params);
        for (;;) {
          const rows = (await client.query<{ doc: unknown }>(`FETCH ${BATCH} FROM listed`)).rows;
          if (rows.length > 0) each(rows.map((row) => decodeJob(row.doc)));
          if (rows.length < BATCH) return;
        }
      }),
    );
  }
}

interface ActivityRow {
  minute_completed: number;
  minute_failed: number;
  hour_completed: number;
  hour_failed: number;
  mean: string | null;
  p95: string | null;
  minutes: [number, number, number][];
}

/**
 * The attempts of live jobs that finished within the hour before $1, found through the jobs
 * updated since (a job is updated when an attempt of it ends), over an index of jobs that have run.
 * The same windows as the lifecycle's `computeMetrics` and `perMinute`.
 */
const ACTIVITY = `
WITH attempts AS (
  SELECT queuectl_time(e->>'finished_at') AS at, e->>'outcome' AS outcome, (e->>'duration_ms')::numeric AS duration
    FROM queuectl_jobs AS j CROSS JOIN LATERAL jsonb_array_elements(j.doc->'history') AS e
   WHERE jsonb_array_length(j.doc->'history') > 0 AND NOT j.archived
     AND queuectl_time(j.doc->>'updated_at') >= $1::timestamptz - interval '1 hour' - ${CLOCK_SLACK}
), hour AS (
  SELECT * FROM attempts WHERE at >= $1::timestamptz - interval '1 hour' AND at <= $1::timestamptz
), minutes AS (
  SELECT floor(extract(epoch FROM $1::timestamptz - at) / 60)::int AS age,
         count(*) FILTER (WHERE outcome = 'completed')::int AS completed,
         count(*) FILTER (WHERE outcome IN ('failed', 'timed-out'))::int AS failed
    FROM attempts WHERE at > $1::timestamptz - interval '1 hour' AND at <= $1::timestamptz GROUP BY 1
)
SELECT count(*) FILTER (WHERE outcome = 'completed' AND at >= $1::timestamptz - interval '1 minute')::int AS minute_completed,
       count(*) FILTER (WHERE outcome IN ('failed', 'timed-out') AND at >= $1::timestamptz - interval '1 minute')::int AS minute_failed,
       count(*) FILTER (WHERE outcome = 'completed')::int AS hour_completed,
       count(*) FILTER (WHERE outcome IN ('failed', 'timed-out'))::int AS hour_failed,
       round(avg(duration) FILTER (WHERE outcome <> 'interrupted'))::text AS mean,
       (percentile_disc(0.95) WITHIN GROUP (ORDER BY duration) FILTER (WHERE outcome <> 'interrupted'))::text AS p95,
       (SELECT coalesce(json_agg(json_build_array(age, completed, failed)), '[]') FROM minutes WHERE age >= 0 AND age < ${ACTIVITY_MINUTES}) AS minutes
  FROM hour`;
