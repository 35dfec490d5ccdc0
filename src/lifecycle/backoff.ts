/**
 * The gap before a failed job's next run: `backoff_base ^ attempts` seconds, cut at `backoff_max`,
 * then spread by `backoff_jitter`. Pure: the random source is a parameter, so tests are exact.
 */
import type { Config } from './config.ts';
import { parseDuration } from './duration.ts';

/** What decides a gap: the settings in force when the failure happens, and a source of U[0,1). */
export interface Backoff {
  base: number;
  /** Seconds; null: no cap. */
  max: number | null;
  /** 0..1: how far below the full gap a run may be moved. */
  jitter: number;
  random: () => number;
}

/** A job's own cap and spread (`--backoff-max`, `--backoff-jitter`); null: the setting's. */
export interface JobBackoff {
  backoff_max: string | null;
  backoff_jitter: number | null;
}

/**
 * Seconds to wait after the `attempts`th failed run. Jitter only shortens a gap, as BullMQ's
 * `jitter` and Celery's `retry_jitter` do: gap × (1 − jitter × U[0,1)), so the capped gap is an
 * upper bound that holds whatever the random source says, and jitter 1 is "full jitter".
 */
export function backoffDelay(base: number, attempts: number, { max, jitter }: { max: number | null; jitter: number }, random: () => number): number {
  const full = base ** attempts;
  const capped = max === null ? full : Math.min(full, max);
  if (jitter <= 0) return capped;
  const draw = Math.min(Math.max(random(), 0), 1);
  return capped * (1 - jitter * draw);
}

/** `backoff_max` as seconds, `off` as no cap. */
export function capSeconds(max: string): number | null {
  return max === 'off' ? null : parseDuration(max) / 1000;
}

/** The settings' backoff, for the supervisor that records failures. */
export function backoffPolicy(config: Config, random: () => number): Backoff {
  return { base: config.backoff_base, max: capSeconds(config.backoff_max), jitter: config.backoff_jitter, random };
}

/** The gap in milliseconds for this job: its own cap and spread over the policy's, if it has them. */
export function retryGapMs(job: JobBackoff, attempts: number, policy: Backoff): number {
  const max = job.backoff_max === null ? policy.max : capSeconds(job.backoff_max);
  const jitter = job.backoff_jitter ?? policy.jitter;
  return Math.round(backoffDelay(policy.base, attempts, { max, jitter }, policy.random) * 1000);
}
