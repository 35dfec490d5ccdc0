/**
 * Named queues: each job runs in one (`default` unless `--queue` says otherwise), and a queue may
 * limit how many of its jobs run at once across every supervisor of the store, or be paused.
 * Pure functions over the settings kept in jobs.json's top-level `queues` object.
 */
import { invalid, QueueError } from './error.ts';
import { DEFAULT_QUEUE, type Job, type State } from './job.ts';
import { closeNames } from './spelling.ts';

export interface QueueSettings {
  /** At most this many of its jobs processing at once; null: no limit. */
  parallel: number | null;
  paused: boolean;
}

/**
 * Queue name → settings; a queue with no entry has no limit and is not paused. The entry `*`
 * (never a queue name) is `queue pause` without a name: while it is paused, every queue is,
 * those first used later included.
 */
export type Queues = Record<string, QueueSettings>;

export const EVERY_QUEUE = '*';

export const UNLIMITED: QueueSettings = { parallel: null, paused: false };

export const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkQueueName(name: string): string {
  if (!QUEUE_NAME.test(name)) throw invalid(`invalid queue name ${JSON.stringify(name)}: use letters, digits and . _ - (at most 64, starting with a letter or digit)`);
  return name;
}

/** A name in the queues object: a queue's, or `*`. */
export function isQueueKey(name: string): boolean {
  return name === EVERY_QUEUE || QUEUE_NAME.test(name);
}

/** Whether `queue pause` without a name is in force. */
export function everyQueuePaused(queues: Queues | undefined): boolean {
  return queues?.[EVERY_QUEUE]?.paused === true;
}

/** What applies to a queue: its own settings, paused too while every queue is. */
export function settingsOf(queues: Queues | undefined, name: string): QueueSettings {
  const own = ownSettings(queues, name);
  return everyQueuePaused(queues) && !own.paused ? { ...own, paused: true } : own;
}

/** The queue's own entry, as `queue set` and `queue pause NAME` wrote it. */
export function ownSettings(queues: Queues | undefined, name: string): QueueSettings {
  return queues?.[name] ?? UNLIMITED;
}

/** `name` if some job or setting names that queue; else not found, with the close names. */
export function checkKnownQueue(name: string, known: readonly string[]): string {
  checkQueueName(name);
  if (known.includes(name)) return name;
  const close = closeNames(name, known);
  const hint = close.length > 0 ? `did you mean ${close.join(', ')}?` : `the queues are ${known.join(', ')}`;
  throw new QueueError('not-found', `no queue named "${name}"; ${hint} (queuectl queue list shows them)`);
}

/** The queues that `jobs` put into use: those no job or setting named before. */
export function newQueues(jobs: readonly Pick<Job, 'queue'>[], existing: readonly Job[], queues: Queues | undefined): string[] {
  const known = new Set(queueNames(existing, queues));
  return [...new Set(jobs.map((job) => job.queue))].filter((name) => !known.has(name));
}

/** `--parallel N`: a whole number; 0 or `off` removes the limit. */
export function parseParallel(raw: string): number | null {
  if (raw === 'off' || raw === '0') return null;
  if (!/^\d+$/.test(raw) || Number(raw) > 10_000) throw invalid(`--parallel takes a whole number of jobs such as 1 or 4, or 0 or off for no limit; got "${raw}"`);
  return Number(raw);
}

/** The settings with one queue changed; a queue back at the defaults leaves no entry, so the file stays minimal. */
export function withQueue(queues: Queues | undefined, name: string, change: Partial<QueueSettings>): Queues {
  const next = { ...ownSettings(queues, name), ...change };
  const rest = Object.fromEntries(Object.entries(queues ?? {}).filter(([key]) => key !== name));
  const all = next.parallel === null && !next.paused ? rest : { ...rest, [name]: next };
  return Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every queue there is: the default one, those jobs use, and those with settings; by name. */
export function queueNames(jobs: readonly Job[], queues: Queues | undefined): string[] {
  const named = Object.keys(queues ?? {}).filter((name) => name !== EVERY_QUEUE);
  return [...new Set([DEFAULT_QUEUE, ...jobs.map((job) => job.queue), ...named])].sort();
}

/**
 * Removes from `ordered` (due jobs in start order) those whose queue is paused or would go over
 * its limit, counting the jobs already processing and those admitted before them.
 */
export function admitByQueue(ordered: readonly Job[], jobs: readonly Job[], queues: Queues | undefined): Job[] {
  const running = new Map<string, number>();
  for (const job of jobs) if (job.state === 'processing') running.set(job.queue, (running.get(job.queue) ?? 0) + 1);
  return ordered.filter((job) => {
    const { parallel, paused } = settingsOf(queues, job.queue);
    const count = running.get(job.queue) ?? 0;
    if (paused || (parallel !== null && count >= parallel)) return false;
    running.set(job.queue, count + 1);
    return true;
  });
}

export interface QueueSummary {
  name: string;
  counts: Record<State, number>;
  parallel: number | null;
  paused: boolean;
}

export function summarizeQueues(jobs: readonly Job[], queues: Queues | undefined, states: readonly State[]): QueueSummary[] {
  return queueNames(jobs, queues).map((name) => {
    const counts = Object.fromEntries(states.map((state) => [state, 0])) as Record<State, number>;
    for (const job of jobs) if (job.queue === name) counts[job.state]++;
    return { name, counts, ...settingsOf(queues, name) };
  });
}
