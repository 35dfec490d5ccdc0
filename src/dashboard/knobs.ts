/** The dashboard's tunable numbers, each with the reason for its value. */

/** Jobs per page of the jobs list: a screenful or two that renders fast, whatever the queue holds. */
export const PAGE_SIZE = 50;

/**
 * How much of a job's log its page reads and shows, from the end: enough for the last runs of a
 * chatty job, small enough to read again on every change while the job runs.
 */
export const LOG_TAIL_BYTES = 64 * 1024;

/** Bursts of changes (a busy supervisor, a chatty job) become at most one page refresh per this. */
export const CHANGE_THROTTLE_MS = 200;

/** The slow poll behind the directory watches, for a missed event or a directory made later. */
export const CHANGE_POLL_MS = 2_000;

/** A comment on every event stream this often keeps idle proxies and browsers from closing it. */
export const SSE_HEARTBEAT_MS = 15_000;

/** How soon a browser reconnects a dropped event stream (the `retry:` field). */
export const SSE_RETRY_MS = 1_000;

/** Form bodies are a few fields; anything larger is not ours. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Messages shown after an action are kept by id, so a URL can never put words in the page; the oldest go past this. */
export const FLASH_LIMIT = 100;
