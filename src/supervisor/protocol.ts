/** The messages between the supervisor (cluster primary) and its workers, over cluster IPC. */
import type { RunResult } from '../lifecycle/job.ts';
import type { RunRequest } from './runner.ts';

export type ToWorker =
  | { type: 'run'; request: RunRequest }
  /** A forced stop: SIGTERM the job's group, SIGKILL after the grace period. */
  | { type: 'stop'; id: string }
  /** SIGKILL the job's group at once. */
  | { type: 'kill'; id: string }
  /**
   * The job is no longer ours (cancelled, or changed by hand): stop it (SIGTERM, SIGKILL after
   * the grace period); `why` ends its log. Its result will not be recorded.
   */
  | { type: 'revoke'; id: string; why: string }
  /**
   * The supervisor renewed its lease (PostgreSQL): a job may run on for `validForMs` more
   * without another renewal. Past that, the worker kills its job, which another host may be
   * about to recover.
   */
  | { type: 'lease'; validForMs: number };

export type FromWorker =
  /** Sent once the worker listens: anything sent before that would be dropped. */
  | { type: 'ready' }
  | { type: 'started'; id: string; pid: number | null }
  | { type: 'finished'; id: string; result: RunResult; interrupted: boolean };
