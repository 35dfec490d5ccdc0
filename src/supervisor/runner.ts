/**
 * Runs one job: `sh -c COMMAND` in the job's directory, in a process group of its own, with its
 * output appended to the job's log file (capped) and its last line kept for `last_error`. A
 * timeout or a kill signals the whole group, never just `sh`.
 *
 * The job writes straight to the log file's descriptor, stdout and stderr alike: no pipes, no
 * copying through this process, and nothing to drain once `sh` has exited. Measured on 1,000
 * `true` jobs, two pipes per job cost about a tenth of a bare spawn loop's throughput. So the cap
 * is kept by cutting the file back (while the job runs and when it ends), and the last line is
 * read back from the file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RunResult } from '../lifecycle/job.ts';
import { signalGroup } from '../system/proc.ts';
import { killMarked } from './recovery.ts';
import { endMarker, interruptedMarker, setAsideOlderLog, startMarker } from './joblog.ts';

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

/** How much of the end of the output is read back for the last line. */
const TAIL_BYTES = 4096;
/**
 * While a job runs, how often its log is cut back to the cap: a job that writes faster than the
 * disk can take it still leaves at most this long's worth beyond the cap, briefly.
 */
const CAP_CHECK_MS = 100;

function lastLine(text: string): string | null {
  const line = text.split('\n').map((part) => part.trim()).filter(Boolean).at(-1);
  return line ? line.slice(0, 300) : null;
}

/**
 * A run's output in its log file: everything from `start` on, written by the job itself through
 * an inherited descriptor opened for append.
 */
class Output {
  private cut = false;

  constructor(
    private readonly fd: number,
    private readonly start: number,
    private readonly maxBytes: number,
  ) {}

  /** Cuts what lies beyond the cap; the job's next writes append at the new end and are cut next time. */
  cap(): void {
    if (fs.fstatSync(this.fd).size - this.start <= this.maxBytes) return;
    fs.ftruncateSync(this.fd, this.start + this.maxBytes);
    this.cut = true;
  }

  /**
   * Ends the output so that a marker can follow on a line of its own; returns its last line, or
   * null if the output was cut (its last line is gone).
   */
  close(): string | null {
    this.cap();
    const end = fs.fstatSync(this.fd).size;
    const length = Math.min(TAIL_BYTES, end - this.start);
    const tail = Buffer.alloc(Math.max(0, length));
    if (length > 0) fs.readSync(this.fd, tail, 0, length, end - length);
    if (this.cut) fs.writeSync(this.fd, `\n[queuectl: output cut at ${this.maxBytes} bytes]\n`);
    else if (length > 0 && tail[length - 1] !== 0x0a) fs.writeSync(this.fd, '\n');
    return this.cut ? null : lastLine(tail.toString('utf8'));
  }
}

function workingDirProblem(dir: string): string | null {
  try {
    return fs.statSync(dir).isDirectory() ? null : `working directory ${dir} is not a directory`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Anything else (a permission) may change: spawn tries, and fails as a retryable run.
    return code === 'ENOENT' || code === 'ENOTDIR' ? `working directory ${dir} does not exist` : null;
  }
}

export function runJob(request: RunRequest): Run {
  const startedAt = new Date();
  // Output can hold secrets (the job's env among them): private, like the rest of the store.
  fs.mkdirSync(path.dirname(request.logFile), { recursive: true, mode: 0o700 });
  setAsideOlderLog(request.logFile, request.createdAt);
  // Opened for reading too: the last line and the last byte are read back through it.
  const log = fs.openSync(request.logFile, 'a+', 0o600);
  fs.writeSync(log, startMarker(request.attempt, startedAt, request.command));
  const output = new Output(log, fs.fstatSync(log).size, request.logMaxBytes);

  /** `tail` is the output's last line, read back once the output has ended. */
  const finish = (result: Omit<RunResult, 'started_at' | 'finished_at' | 'stderr_tail'>, interrupted: string | null = null): RunResult => {
    const finishedAt = new Date();
    const how = result.error ?? (result.timed_out ? `timed out after ${request.timeoutText}` : result.signal ? `signal ${result.signal}` : `exit code ${result.exit_code}`);
    const took = finishedAt.getTime() - startedAt.getTime();
    const tail = output.close();
    fs.writeSync(log, interrupted === null ? endMarker(request.attempt, finishedAt, how, took) : interruptedMarker(request.attempt, finishedAt, interrupted, took));
    fs.closeSync(log);
    return { started_at: startedAt.toISOString(), finished_at: finishedAt.toISOString(), ...result, stderr_tail: result.exit_code === 0 ? null : tail };
  };

  // spawn would blame /bin/sh (ENOENT) for a missing directory; waiting will not create it.
  const missing = workingDirProblem(request.cwd);
  if (missing !== null) {
    const result = finish({ exit_code: null, signal: null, timed_out: false, error: missing, permanent: true });
    return { pid: null, startedAt: startedAt.getTime(), result: Promise.resolve(result), interrupt: () => false, kill() {} };
  }

  const child = spawn('/bin/sh', ['-c', request.command], {
    cwd: request.cwd,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...request.jobEnv, ...request.env },
  });
  const pid = child.pid ?? null;
  // A short job is over before the first look: only a long one pays for it.
  const capTimer = setInterval(() => output.cap(), CAP_CHECK_MS);

  let timedOut = false;
  /** Why the run was cut short, if it was. */
  let interrupted: string | null = null;
  let exited = false;
  let graceTimer: NodeJS.Timeout | null = null;
  const stop = () => {
    if (pid === null || graceTimer) return;
    signalGroup(pid, 'SIGTERM');
    graceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), request.killGraceMs);
  };
  const timeoutTimer =
    request.timeoutMs === null
      ? null
      : setTimeout(() => {
          if (interrupted === null) timedOut = true;
          stop();
        }, request.timeoutMs);
  // A run whose command has already exited is not cut short: its own result stands.
  const interrupt = (why: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    if (pid === null || exited) return false;
    interrupted ??= why;
    if (signal === 'SIGKILL') signalGroup(pid, 'SIGKILL');
    else stop();
    return true;
  };

  const result = new Promise<RunResult>((resolve) => {
    let spawnError: Error | null = null;
    let settled = false;
    child.on('error', (error) => {
      spawnError = error;
      // Without a pid there will be no 'exit' event.
      if (pid === null && !settled) {
        settled = true;
        clearInterval(capTimer);
        resolve(finish({ exit_code: null, signal: null, timed_out: false, error: `could not start /bin/sh: ${error.message}` }));
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (graceTimer) clearTimeout(graceTimer);
      clearInterval(capTimer);
      if (settled) return;
      settled = true;
      void (async () => {
        // A run that failed, timed out or was stopped may be run again: whatever it left behind
        // (a background child, even one that escaped with setsid) must be gone first.
        if (code !== 0 || signal !== null || timedOut || interrupted !== null) await killMarked(request.env);
        resolve(
          finish(
            {
              exit_code: code,
              signal: interrupted !== null ? null : signal,
              timed_out: timedOut,
              error: spawnError ? `could not start /bin/sh: ${spawnError.message}` : interrupted,
            },
            spawnError ? null : interrupted,
          ),
        );
      })();
    });
  });
  return { pid, startedAt: startedAt.getTime(), result, interrupt, kill: () => pid !== null && signalGroup(pid, 'SIGKILL') };
}
