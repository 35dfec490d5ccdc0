import type { Job } from '../../src/lifecycle/job.ts';

export const T0 = new Date('2026-01-01T00:00:00.000Z');

/** A job with sensible defaults; override any field. */
export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 'job1',
    command: 'true',
    state: 'pending',
    attempts: 0,
    max_retries: 3,
    priority: 0,
    queue: 'default',
    after: [],
    schedule: null,
    run_at: T0.toISOString(),
    timeout: null,
    no_retry_on: [],
    backoff_max: null,
    backoff_jitter: null,
    cwd: '/tmp',
    env: {},
    created_at: T0.toISOString(),
    updated_at: T0.toISOString(),
    started_at: null,
    finished_at: null,
    recoveries: 0,
    last_error: null,
    owner: null,
    history: [],
    ...overrides,
  };
}

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}
