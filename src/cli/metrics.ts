/** Throughput and duration figures for `status`, computed from the jobs' attempt history. */
import type { Attempt, Job } from '../lifecycle/job.ts';

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

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

export function computeMetrics(jobs: readonly Job[], now: Date): Metrics {
  const minuteAgo = now.getTime() - 60_000;
  const hourAgo = now.getTime() - 3_600_000;
  const window = (): Window => ({ completed: 0, failed: 0 });
  const minute = window();
  const hour = window();
  const durations: number[] = [];
  const count = (target: Window, attempt: Attempt) => {
    if (attempt.outcome === 'completed') target.completed++;
    else if (attempt.outcome === 'failed' || attempt.outcome === 'timed-out') target.failed++;
  };
  for (const job of jobs) {
    for (const attempt of job.history) {
      const at = Date.parse(attempt.finished_at);
      if (at < hourAgo || at > now.getTime()) continue;
      count(hour, attempt);
      if (at >= minuteAgo) count(minute, attempt);
      if (attempt.outcome !== 'interrupted') durations.push(attempt.duration_ms);
    }
  }
  durations.sort((a, b) => a - b);
  const mean = durations.length === 0 ? null : Math.round(durations.reduce((sum, d) => sum + d, 0) / durations.length);
  return { last_minute: minute, last_hour: hour, mean_duration_ms: mean, p95_duration_ms: percentile(durations, 95) };
}

/** Finished and failed attempts per minute over the last `minutes`, oldest minute first. */
export function perMinute(jobs: readonly Job[], now: Date, minutes = 60): Window[] {
  const end = now.getTime();
  const buckets = Array.from({ length: minutes }, (): Window => ({ completed: 0, failed: 0 }));
  for (const job of jobs) {
    for (const attempt of job.history) {
      const age = Math.floor((end - Date.parse(attempt.finished_at)) / 60_000);
      const bucket = age >= 0 && age < minutes ? buckets[minutes - 1 - age] : undefined;
      if (!bucket) continue;
      if (attempt.outcome === 'completed') bucket.completed++;
      else if (attempt.outcome === 'failed' || attempt.outcome === 'timed-out') bucket.failed++;
    }
  }
  return buckets;
}
