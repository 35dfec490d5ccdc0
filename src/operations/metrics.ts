/**
 * The snapshot `GET /metrics` and `queuectl metrics` render, from the store's reads for display:
 * counts are aggregates, the rest is bounded by the workers, the schedules and a sample of the
 * most recently changed jobs, so a scrape costs the same on a queue of ten jobs or ten million.
 */
import { STATES, type State } from '../lifecycle/job.ts';
import type { MetricsSnapshot } from '../lifecycle/exposition.ts';
import type { Store } from '../store/store.ts';

/** The most recently changed jobs whose runs the duration histogram is over: one page of a read. */
export const DURATION_SAMPLE_JOBS = 1000;

const HOUR_MS = 3_600_000;

/** Reads what the metrics show; `now` is the store's clock, as every relative figure is. */
export async function gatherMetrics(store: Store): Promise<MetricsSnapshot> {
  const started = performance.now();
  const now = store.now();
  const [counts, processing, activity, settings, supervisors, next, recent] = await Promise.all([
    store.countJobs(),
    store.processingJobs(),
    store.activity(now),
    store.queueSettings(),
    store.supervisors(),
    store.nextJobs(now),
    store.pageJobs({ order: 'recent', states: ['completed', 'failed', 'dead', 'pending', 'cancelled'] }, { offset: 0, limit: DURATION_SAMPLE_JOBS }),
  ]);
  const live = Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;
  for (const queue of Object.values(counts.queues)) for (const state of STATES) live[state] += queue[state];
  const archived = Object.fromEntries(STATES.map((state) => [state, Math.max(0, counts.states[state] - live[state])])) as Record<State, number>;
  const busy: Record<string, number> = {};
  for (const job of processing) if (job.owner) busy[job.owner.host] = (busy[job.owner.host] ?? 0) + 1;
  const since = now.getTime() - HOUR_MS;
  const durations = recent.flatMap((job) =>
    job.history.filter((run) => run.outcome !== 'interrupted' && Date.parse(run.finished_at) >= since && Date.parse(run.finished_at) <= now.getTime()).map((run) => run.duration_ms / 1000),
  );
  const lag = Object.fromEntries(settings.schedules.map((schedule) => [schedule.name, Math.max(0, (now.getTime() - Date.parse(schedule.next_at)) / 1000)]));
  return {
    backend: store.backend,
    queues: counts.queues,
    archived,
    lastHour: activity.metrics.last_hour,
    durations,
    supervisors: supervisors.map((record) => ({ host: record.host, phase: record.phase ?? 'running', workers: record.count })),
    busy,
    scheduleLag: lag,
    oldestDueSeconds: next.start ? Math.max(0, (now.getTime() - Date.parse(next.start.run_at)) / 1000) : null,
    scrapeSeconds: (performance.now() - started) / 1000,
  };
}
