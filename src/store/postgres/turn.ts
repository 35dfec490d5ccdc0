/**
 * A supervisor's turn on PostgreSQL, in one transaction that touches only what it needs: one
 * statement reads the small facts (settings, schedules, queue rows, the first job waiting at
 * another supervisor, the next due time), then the results are recorded on their own rows, due
 * schedules fire by a compare-and-set of the schedules' row, the claims are made, and the held
 * jobs are looked up by id. No lock is shared by every turn: rows are locked one by one, a
 * queue's row only by claims in that limited queue, the schedules' row only when one is due.
 */
import type { ClientBase } from 'pg';
import { backoffPolicy } from '../../lifecycle/backoff.ts';
import { applyEnv, configFromDocument } from '../../lifecycle/config.ts';
import { WAIT_FOR_OTHERS_MS, type Rank } from '../../lifecycle/dispatch.ts';
import type { Job } from '../../lifecycle/job.ts';
import type { Queues } from '../../lifecycle/queue.ts';
import { fireSchedules, isScheduleDue, nextFiringTime, scheduleSpec, type Schedule } from '../../lifecycle/schedule.ts';
import type { TurnOutcome, TurnRequest } from '../store.ts';
import { BAR, claimDue } from './claims.ts';
import { encodeJob } from './jobs.ts';
import { recordResults } from './results.ts';
import { selectJobs } from './rows.ts';

interface Facts {
  config: Record<string, unknown> | null;
  schedules: Schedule[] | null;
  queues: [string, number | null, boolean][] | null;
  bar: [number, string] | null;
  due: Date | null;
}

const FACTS = `
  SELECT (SELECT jsonb_object_agg(key, value) FROM queuectl_config) AS config,
         (SELECT value FROM queuectl_meta WHERE key = 'schedules') AS schedules,
         (SELECT jsonb_agg(jsonb_build_array(name, parallel, paused)) FROM queuectl_queues) AS queues,
         (${BAR}) AS bar,
         (SELECT min(run_at) FROM queuectl_jobs WHERE state IN ('pending', 'failed') AND NOT archived AND run_at > $2) AS due`;

export interface TurnContext {
  client: ClientBase;
  now: Date;
  env: NodeJS.ProcessEnv;
  leaseSeconds: number;
  supervisorId: string;
}

export async function takePostgresTurn(context: TurnContext, request: TurnRequest): Promise<TurnOutcome & { written: Job[] }> {
  const { client, now, leaseSeconds } = context;
  const facts = (await client.query<Facts>(FACTS, [context.supervisorId, now, WAIT_FOR_OTHERS_MS / 1000])).rows[0]!;
  const config = applyEnv(configFromDocument(facts.config ?? {}, 'the queuectl_config table'), context.env);
  const recorded = await recordResults(client, request, now, backoffPolicy(config, Math.random), leaseSeconds);
  const schedules = facts.schedules ?? [];
  const due = schedules.some((schedule) => isScheduleDue(schedule, now) && request.broken.get(schedule.name) !== scheduleSpec(schedule));
  const fired = due && request.cron ? await fire(client, schedules, request, now) : { added: [], broken: [] };
  const queues: Queues = Object.fromEntries((facts.queues ?? []).map(([name, parallel, paused]) => [name, { parallel, paused }]));
  const before: Rank | null = facts.bar ? [facts.bar[0], Number(facts.bar[1])] : null;
  const { claimed, bar } = await claimDue(client, { self: request.self, workers: request.workers, waiting: request.waiting, now, queues, bar: before, leaseSeconds, supervisorId: context.supervisorId });
  const holding = new Map<string, { job: Job; rank: Rank }>();
  if (request.holding.length > 0) {
    for (const { job, seq } of await selectJobs(client, 'SELECT seq, doc FROM queuectl_jobs WHERE id = ANY($1)', [request.holding])) holding.set(job.id, { job, rank: [job.priority, seq] });
  }
  const times = [facts.due?.getTime() ?? null, nextFiringTime(schedules)].filter((time) => time !== null);
  return {
    claimed,
    events: recorded.events,
    config,
    fired: fired.added,
    broken: fired.broken,
    holding,
    bar,
    nextDue: times.length === 0 ? null : Math.min(...times),
    firing: due && request.cron === null,
    written: [...recorded.written, ...claimed, ...fired.added],
  };
}

/**
 * Fires the due schedules exactly once across hosts: the schedules' row is advanced only if it
 * is still what this turn read (a compare-and-set, which also locks it until this turn commits:
 * another supervisor firing at the same instant waits, then finds it changed and fires
 * nothing), and the firings' jobs are inserted in the same transaction.
 */
async function fire(client: ClientBase, schedules: Schedule[], request: TurnRequest, now: Date): Promise<{ added: Job[]; broken: { name: string; error: string; spec: string }[] }> {
  const fired = fireSchedules(schedules, [], request.cron!, now);
  const advanced = await client.query(`UPDATE queuectl_meta SET value = $1::jsonb WHERE key = 'schedules' AND value = $2::jsonb`, [JSON.stringify(fired.schedules), JSON.stringify(schedules)]);
  if (advanced.rowCount !== 1) return { added: [], broken: fired.broken };
  if (fired.added.length === 0) return fired;
  const inserted = await client.query<{ id: string }>(
    `INSERT INTO queuectl_jobs (doc) SELECT r.doc FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(doc, n) ORDER BY r.n
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [`[${fired.added.map(encodeJob).join(',')}]`],
  );
  const ids = new Set(inserted.rows.map((row) => row.id));
  return { added: fired.added.filter((job) => ids.has(job.id)), broken: fired.broken };
}
