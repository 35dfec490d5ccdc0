/**
 * The soak's checker, after Jepsen's total-queue checker: every acknowledged enqueue must be in
 * the final state (lost = 0), nothing may be there or run that was never enqueued (unexpected =
 * 0), and, our own, no two runs of one job may be alive at once (overlapping = 0). A job may run
 * more than once only when the queue recorded why: each run leaves either a finished attempt or
 * an interrupted one (a recovery) in the job's history, so a job's runs never outnumber its
 * history entries. After the heal and the drain every job must be completed or dead.
 */
import type { Job } from '../../src/lifecycle/job.ts';
import type { History } from './history.ts';

/** What the checker needs of a job in the final state. */
export type FinalJob = Pick<Job, 'id' | 'state' | 'attempts' | 'recoveries'> & { history: Pick<Job['history'][number], 'outcome'>[] };

export interface Report {
  counts: {
    attempted: number;
    acked: number;
    refused: number;
    maybe: number;
    maybePresent: number;
    final: number;
    byState: Record<string, number>;
    runs: number;
    runsEnded: number;
    jobsRunMoreThanOnce: number;
    extraRuns: number;
    recoveries: number;
    interruptedEntries: number;
    deadByRecoveries: number;
  };
  /** Acknowledged (or seen running) but absent from the final state. */
  lost: string[];
  /** Present or run without ever being enqueued, or present after a refusal. */
  unexpected: string[];
  /** Runs that outnumber the job's recorded attempts and recoveries; a result recorded twice. */
  duplicated: string[];
  overlapping: string[];
  /** Not completed or dead after the heal and the drain. */
  stuck: string[];
  /** Recorded as completed, but no run of it ever ended with exit status 0. */
  phantom: string[];
  /** Damaged files, unreadable snapshots, leftovers, garbage in the history. */
  integrity: string[];
}

export const VIOLATIONS = ['lost', 'unexpected', 'duplicated', 'overlapping', 'stuck', 'phantom', 'integrity'] as const;

export function violations(report: Report): number {
  return VIOLATIONS.reduce((sum, kind) => sum + report[kind].length, 0);
}

/** Runs of one job whose recorded start and end overlap in time (runs that were killed have no end). */
function timeOverlaps(history: History): string[] {
  const found: string[] = [];
  for (const [id, runs] of history.runs) {
    for (let i = 0; i < runs.length; i++) {
      const before = runs[i]!;
      for (const after of runs.slice(i + 1)) {
        if (before.end !== null && after.start < before.end) {
          found.push(`job ${id}: run ${after.run} started at ${after.start} before run ${before.run} ended at ${before.end}`);
        }
      }
    }
  }
  return found;
}

export function check(history: History, finalJobs: readonly FinalJob[], integrity: readonly string[] = []): Report {
  const final = new Map(finalJobs.map((job) => [job.id, job]));
  const lost: string[] = [];
  const unexpected: string[] = [];
  const duplicated: string[] = [];
  const stuck: string[] = [];
  const phantom: string[] = [];

  for (const id of history.acked) if (!final.has(id)) lost.push(`job ${id}: acknowledged, but not in the final state`);
  for (const id of history.runs.keys()) {
    if (!history.invoked.has(id)) unexpected.push(`job ${id}: ran, but was never enqueued`);
    else if (!final.has(id) && !history.acked.has(id)) lost.push(`job ${id}: ran (so it was enqueued), but is not in the final state`);
  }
  for (const id of final.keys()) {
    if (!history.invoked.has(id)) unexpected.push(`job ${id}: in the final state, but was never enqueued`);
    else if (history.failed.has(id)) unexpected.push(`job ${id}: in the final state, but its enqueue was refused (${history.failed.get(id)})`);
  }

  let runs = 0;
  let runsEnded = 0;
  let extraRuns = 0;
  let jobsRunMoreThanOnce = 0;
  for (const [id, list] of history.runs) {
    runs += list.length;
    runsEnded += list.filter((run) => run.end !== null).length;
    if (list.length > 1) {
      jobsRunMoreThanOnce++;
      extraRuns += list.length - 1;
    }
    const job = final.get(id);
    if (job && list.length > job.history.length) {
      duplicated.push(`job ${id}: ${list.length} runs started, but its history records only ${job.history.length} (${job.history.map((entry) => entry.outcome).join(', ')})`);
    }
  }

  const byState: Record<string, number> = {};
  let recoveries = 0;
  let interruptedEntries = 0;
  let deadByRecoveries = 0;
  for (const job of final.values()) {
    byState[job.state] = (byState[job.state] ?? 0) + 1;
    const interrupted = job.history.filter((entry) => entry.outcome === 'interrupted').length;
    interruptedEntries += interrupted;
    recoveries += job.recoveries;
    if (job.state === 'dead' && job.history.at(-1)?.outcome === 'interrupted') deadByRecoveries++;
    if (job.state !== 'completed' && job.state !== 'dead') stuck.push(`job ${job.id}: ${job.state} after the drain`);
    const completions = job.history.filter((entry) => entry.outcome === 'completed').length;
    if (completions > 1) duplicated.push(`job ${job.id}: its history records ${completions} completions`);
    if (job.state === 'completed' && !(history.runs.get(job.id) ?? []).some((run) => run.code === 0)) {
      phantom.push(`job ${job.id}: completed, but no run of it ended with exit status 0`);
    }
  }

  const maybePresent = [...history.maybe.keys()].filter((id) => final.has(id)).length;
  return {
    counts: {
      attempted: history.invoked.size,
      acked: history.acked.size,
      refused: history.failed.size,
      maybe: history.maybe.size,
      maybePresent,
      final: final.size,
      byState,
      runs,
      runsEnded,
      jobsRunMoreThanOnce,
      extraRuns,
      recoveries,
      interruptedEntries,
      deadByRecoveries,
    },
    lost,
    unexpected,
    duplicated,
    overlapping: [...history.overlaps, ...timeOverlaps(history)],
    stuck,
    phantom,
    integrity: [...integrity, ...history.garbage.map((line) => `history: a line the checker cannot read: ${JSON.stringify(line)}`)],
  };
}
