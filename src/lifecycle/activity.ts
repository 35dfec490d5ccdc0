/**
 * Throughput and duration figures from the jobs' attempt history: what `status` and the
 * dashboard show about recent work. Pure: the PostgreSQL store computes the same in SQL.
 */
import type { Attempt, Job } from './job.ts';

export interface Window {
  completed: number;
  failed: number;
}

export interface Metrics {
  last_minute: Window;
  last_hour: Window;
  /** Over the attempts that finished in the last hour; null when there were none. */
  mean_duration_ms: number | null;
  p95_duration_ms: number | null;
}

/** What the last hour held: the figures, and finished and failed attempts per minute, oldest minute first. */
export interface Activity {
  metrics: Metrics;
  minutes: Window[];
}

/** The minutes `Activity.minutes` covers. */
export const ACTIVITY_MINUTES = 60;

/** The rank of the p-th percentile among n sorted values, from 0 (nearest rank). */
export function percentileRank(n: number, p: number): number {
  return Math.min(n - 1, Math.ceil((p / 100) * n) - 1);
}

function tally(target: Window, attempt: Attempt): void {
  if (attempt.outcome === 'completed') target.completed++;
  else if (attempt.outcome === 'failed' || attempt.outcome === 'timed-out') target.failed++;
}

export function computeMetrics(jobs: readonly Job[], now: Date): Metrics {
  const minuteAgo = now.getTime() - 60_000;
  const hourAgo = now.getTime() - 3_600_000;
  const minute: Window = { completed: 0, failed: 0 };
  const hour: Window = { completed: 0, failed: 0 };
  const durations: number[] = [];
  for (const job of jobs) {
    for (const attempt of job.history) {
      const at = Date.parse(attempt.finished_at);
      if (at < hourAgo || at > now.getTime()) continue;
      tally(hour, attempt);
      if (at >= minuteAgo) tally(minute, attempt);
      if (attempt.outcome !== 'interrupted') durations.push(attempt.duration_ms);
    }
  }
  durations.sort((a, b) => a - b);
  const mean = durations.length === 0 ? null : Math.round(durations.reduce((sum, d) => sum + d, 0) / durations.length);
  const p95 = durations.length === 0 ? null : (durations[percentileRank(durations.length, 95)] ?? null);
  return { last_minute: minute, last_hour: hour, mean_duration_ms: mean, p95_duration_ms: p95 };
}

/** Finished and failed attempts per minute over the last `minutes`, oldest minute first. */
export function perMinute(jobs: readonly Job[], now: Date, minutes = ACTIVITY_MINUTES): Window[] {
  const end = now.getTime();
  const buckets = Array.from({ length: minutes }, (): Window => ({ completed: 0, failed: 0 }));
  for (const job of jobs) {
    for (const attempt of job.history) {
      const age = Math.floor((end - Date.parse(attempt.finished_at)) / 60_000);
      const bucket = age >= 0 && age < minutes ? buckets[minutes - 1 - age] : undefined;
      if (bucket) tally(bucket, attempt);
    }
  }
  return buckets;
}

export function computeActivity(jobs: readonly Job[], now: Date): Activity {
  return { metrics: computeMetrics(jobs, now), minutes: perMinute(jobs, now) };
}
