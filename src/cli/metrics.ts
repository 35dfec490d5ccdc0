/** The throughput figures `status` shows: computed in the lifecycle (and in SQL by the PostgreSQL store). */
export { computeMetrics, perMinute, type Metrics, type Window } from '../lifecycle/activity.ts';
