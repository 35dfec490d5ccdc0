/**
 * Runs one job: `sh -c COMMAND` in the job's directory, in a process group of its own, with its
 * output appended to the job's log file (capped, see runner-log.ts) and its last line kept for
 * `last_error`. A timeout or a kill signals the whole group, never just `sh`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { RunResult } from '../lifecycle/job.ts';
import { signalGroup } from '../system/proc.ts';
import { killMarked } from './recovery.ts';
import { closeRunLog, openRunLog, type RunLog } from './runner-log.ts';

export interface RunRequest {
  id: string;
  command: string;
  cwd: string;
  attempt: number;
  timeoutMs: number | null;
  timeoutText: string | null;
  killGraceMs: number;
  logFile: string;
  logMaxBytes: number;
  /** The job's creation time: a log of an earlier job with the same id is set aside. */
  createdAt: string;
  /** Marks every process of this run, so recovery can find them even after a setsid. */
  env: Record<string, string>;
  /** The job's own variables (`--env`); the markers above win over them. */
  jobEnv?: Record<string, string>;
}

export interface Run {
  pid: number | null;
  /** When the command was started, in epoch milliseconds. */
  startedAt: number;
  result: Promise<RunResult>;
  /**
   * Cuts the run short (a forced stop, a cancel): SIGTERM the group, then SIGKILL after the grace
   * period, or SIGKILL at once. The log's last line and the result's error say `why`.
   */
  interrupt(why: string, signal?: 'SIGTERM' | 'SIGKILL'): boolean;
  /** SIGKILL the group at once, synchronously, with nothing logged: the worker is exiting. */
  kill(): void;
}

/**
 * While a job runs, how often its log is cut back to the cap: a job that writes faster than the
 * disk can take it still leaves at most this long's worth beyond the cap, briefly.
 */
const CAP_CHECK_MS = 100;

function workingDirProblem(dir: string): string | null {
  try {
    return fs.statSync(dir).isDirectory() ? null : `working directory ${dir} is not a directory`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Anything else (a permission) may change: spawn tries, and fails as a retryable run.
    return code === 'ENOENT' || code === 'ENOTDIR' ? `working directory ${dir} does not exist` : null;
  }
}

/** How a run ended, before its times and last line are added. */
type Ending = Omit<RunResult, 'started_at' | 'finished_at' | 'stderr_tail'>;

/** Closes the run's log with its end marker and makes the result; `interrupted` says why it was cut short. */
function finish(request: RunRequest, log: RunLog, startedAt: Date, result: Ending, interrupted: string | null = null): RunResult {
  const finishedAt = new Date();
  const how = result.error ?? (result.timed_out ? `timed out after ${request.timeoutText}` : result.signal ? `signal ${result.signal}` : `exit code ${result.exit_code}`);
  const took = finishedAt.getTime() - startedAt.getTime();
  const tail = closeRunLog(log, request.attempt, finishedAt, took, how, interrupted);
  return { started_at: startedAt.toISOString(), finished_at: finishedAt.toISOString(), ...result, stderr_tail: result.exit_code === 0 ? null : tail };
}

/** `sh -c COMMAND` as the leader of a process group of its own, writing to the log. */
function spawnGroup(request: RunRequest, log: RunLog): ChildProcess {
  return spawn('/bin/sh', ['-c', request.command], {
    cwd: request.cwd,
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    env: { ...process.env, ...request.jobEnv, ...request.env },
  });
}

/** A run's timeout and kill: SIGTERM to the group, SIGKILL after the grace period. */
class Stopper {
  timedOut = false;
  /** Why the run was cut short, if it was. */
  interrupted: string | null = null;
  exited = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly timeoutTimer: NodeJS.Timeout | null;

  constructor(
    private readonly pid: number | null,
    private readonly request: RunRequest,
  ) {
    this.timeoutTimer =
      request.timeoutMs === null
        ? null
        : setTimeout(() => {
            if (this.interrupted === null) this.timedOut = true;
            this.stop();
          }, request.timeoutMs);
  }

  private stop(): void {
    const pid = this.pid;
    if (pid === null || this.graceTimer) return;
    signalGroup(pid, 'SIGTERM');
    this.graceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.request.killGraceMs);
  }

  // A run whose command has already exited is not cut short: its own result stands.
  interrupt(why: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): boolean {
    if (this.pid === null || this.exited) return false;
    this.interrupted ??= why;
    if (signal === 'SIGKILL') signalGroup(this.pid, 'SIGKILL');
    else this.stop();
    return true;
  }

  /** The command has exited: its timers must not fire. */
  exit(): void {
    this.exited = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
  }
}

/** The run's result, once `sh` has exited (or could not start) and whatever it left is gone. */
function awaitResult(request: RunRequest, child: ChildProcess, stopper: Stopper, capTimer: NodeJS.Timeout, end: (result: Ending, interrupted?: string | null) => RunResult): Promise<RunResult> {
  const pid = child.pid ?? null;
  return new Promise<RunResult>((resolve) => {
    let spawnError: Error | null = null;
    let settled = false;
    child.on('error', (error) => {
      spawnError = error;
      // Without a pid there will be no 'exit' event.
      if (pid === null && !settled) {
        settled = true;
        clearInterval(capTimer);
        resolve(end({ exit_code: null, signal: null, timed_out: false, error: `could not start /bin/sh: ${error.message}` }));
      }
    });
    child.on('exit', (code, signal) => {
      stopper.exit();
      clearInterval(capTimer);
      if (settled) return;
      settled = true;
      void (async () => {
        // A run that failed, timed out or was stopped may be run again: whatever it left behind
        // (a background child, even one that escaped with setsid) must be gone first.
        if (code !== 0 || signal !== null || stopper.timedOut || stopper.interrupted !== null) await killMarked(request.env);
        resolve(
          end(
            {
              exit_code: code,
              signal: stopper.interrupted !== null ? null : signal,
              timed_out: stopper.timedOut,
              error: spawnError ? `could not start /bin/sh: ${spawnError.message}` : stopper.interrupted,
            },
            spawnError ? null : stopper.interrupted,
          ),
        );
      })();
    });
  });
}

export function runJob(request: RunRequest): Run {
  const startedAt = new Date();
  const log = openRunLog(request, startedAt);
  const end = (result: Ending, interrupted: string | null = null) => finish(request, log, startedAt, result, interrupted);

  // spawn would blame /bin/sh (ENOENT) for a missing directory; waiting will not create it.
  const missing = workingDirProblem(request.cwd);
  if (missing !== null) {
    const result = end({ exit_code: null, signal: null, timed_out: false, error: missing, permanent: true });
    return { pid: null, startedAt: startedAt.getTime(), result: Promise.resolve(result), interrupt: () => false, kill() {} };
  }

  const child = spawnGroup(request, log);
  const pid = child.pid ?? null;
  // A short job is over before the first look: only a long one pays for it.
  const capTimer = setInterval(() => log.output.cap(), CAP_CHECK_MS);
  const stopper = new Stopper(pid, request);
  const result = awaitResult(request, child, stopper, capTimer, end);
  return {
    pid,
    startedAt: startedAt.getTime(),
    result,
    interrupt: (why, signal) => stopper.interrupt(why, signal),
    kill: () => pid !== null && signalGroup(pid, 'SIGKILL'),
  };
}
