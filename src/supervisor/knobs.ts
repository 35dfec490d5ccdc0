/**
 * The supervisor's knobs, each with its why, in one place (as graphile-worker's LocalQueue
 * documents its own), the PostgreSQL listener's included: they shape how soon a supervisor hears
 * of work.
 */

/** Batching: how long a turn may wait to record more results in one commit while every worker has its next job waiting. */
export const BATCH_MS = 10;

/**
 * Batching: while runs are short, at most this many jobs per worker wait claimed at the
 * supervisor. Measured on 1,000 `true` jobs with 4 workers (bare spawn loop: 1.3 s): 3 drained
 * them in 4.1 s, 6 in 3.5 s, 10 in 3.0 s; each commit claims more, and there are fewer commits.
 */
export const MAX_WAITING = 16;

/**
 * Hand-back: claimed jobs wait for a worker at most about this long; when every worker has been
 * busy for longer, they are handed back for another supervisor's workers to take.
 */
export const HAND_BACK_AFTER_MS = 100;

/** Poll: the slow safety net behind every change signal (a lost notification, a due time). */
export const POLL_MS = 1_000;

/** Recovery: how often lost claims are looked for; a query of its own, not part of every turn. */
export const RECOVER_EVERY_MS = 1_000;

/** Worker deaths: this many within CRASH_WINDOW_MS mean something is broken… */
export const CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 10_000;
/** …and replacements then wait this long, so that a poison pill cannot fork workers in a loop. */
export const SLOW_REPLACEMENT_MS = 1_000;

/**
 * Listener (PostgreSQL): a dropped LISTEN connection is reopened after RECONNECT_FIRST_MS,
 * doubling up to RECONNECT_MAX_MS; a queue's notifications are held back NOTIFY_WINDOW_MS after
 * one was sent, since a NOTIFY serializes the commits that send one. Defined by the store (a
 * layer below), named here with the rest.
 */
export { RECONNECT_FIRST_MS, RECONNECT_MAX_MS } from '../store/postgres/listen.ts';
export { NOTIFY_WINDOW_MS } from '../store/postgres/notify.ts';
