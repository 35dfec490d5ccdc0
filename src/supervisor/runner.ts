/**
 * Runs one job: `sh -c COMMAND` in the job's directory, in a process group of its own, with its
 * output appended to the job's log file (capped) and the last line of stderr kept for
 * `last_error`. A timeout or a kill signals the whole group, never just `sh`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RunResult } from '../lifecycle/job.ts';
import { signalGroup } from './proc.ts';
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

const STDERR_TAIL_BYTES = 4096;
/** After `sh` exits, how long its output pipes may stay open (held by a background child). */
const DRAIN_MS = 200;

function lastLine(text: string): string | null {
  const line = text.split('\n').map((part) => part.trim()).filter(Boolean).at(-1);
  return line ? line.slice(0, 300) : null;
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
  const log = fs.openSync(request.logFile, 'a', 0o600);
  let logged = 0;
  let cut = false;
  /** The end marker must start a line of its own, even after output without a final newline. */
  let midLine = false;
  const write = (chunk: Buffer) => {
    const bytes = Buffer.byteLength(chunk);
    if (logged + bytes > request.logMaxBytes) {
      if (!cut) fs.writeSync(log, `\n[queuectl: output cut at ${request.logMaxBytes} bytes]\n`);
      cut = true;
      midLine = false;
      return;
    }
    fs.writeSync(log, chunk);
    logged += bytes;
    if (bytes > 0) midLine = chunk[bytes - 1] !== 0x0a;
  };
  fs.writeSync(log, startMarker(request.attempt, startedAt, request.command));

  const finish = (result: Omit<RunResult, 'started_at' | 'finished_at'>, interrupted: string | null = null): RunResult => {
    const finishedAt = new Date();
    const how = result.error ?? (result.timed_out ? `timed out after ${request.timeoutText}` : result.signal ? `signal ${result.signal}` : `exit code ${result.exit_code}`);
    const took = finishedAt.getTime() - startedAt.getTime();
    if (midLine) fs.writeSync(log, '\n');
    fs.writeSync(log, interrupted === null ? endMarker(request.attempt, finishedAt, how, took) : interruptedMarker(request.attempt, finishedAt, interrupted, took));
    fs.closeSync(log);
    return { started_at: startedAt.toISOString(), finished_at: finishedAt.toISOString(), ...result };
  };

  // spawn would blame /bin/sh (ENOENT) for a missing directory; waiting will not create it.
  const missing = workingDirProblem(request.cwd);
  if (missing !== null) {
    const result = finish({ exit_code: null, signal: null, timed_out: false, stderr_tail: null, error: missing, permanent: true });
    return { pid: null, startedAt: startedAt.getTime(), result: Promise.resolve(result), interrupt: () => false, kill() {} };
  }

  const child = spawn('/bin/sh', ['-c', request.command], {
    cwd: request.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...request.jobEnv, ...request.env },
  });
  const pid = child.pid ?? null;
  let stderrTail = '';
  child.stdout.on('data', write);
  child.stderr.on('data', (chunk: Buffer) => {
    write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });

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
        resolve(finish({ exit_code: null, signal: null, timed_out: false, stderr_tail: null, error: `could not start /bin/sh: ${error.message}` }));
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (graceTimer) clearTimeout(graceTimer);
      const settle = async () => {
        if (settled) return;
        settled = true;
        child.stdout.destroy();
        child.stderr.destroy();
        // A run that failed, timed out or was stopped may be run again: whatever it left behind
        // (a background child, even one that escaped with setsid) must be gone first.
        if (code !== 0 || signal !== null || timedOut || interrupted !== null) await killMarked(request.env);
        resolve(
          finish(
            {
              exit_code: code,
              signal: interrupted !== null ? null : signal,
              timed_out: timedOut,
              stderr_tail: lastLine(stderrTail),
              error: spawnError ? `could not start /bin/sh: ${spawnError.message}` : interrupted,
            },
            spawnError ? null : interrupted,
          ),
        );
      };
      const drain = setTimeout(() => void settle(), DRAIN_MS);
      child.on('close', () => {
        clearTimeout(drain);
        void settle();
      });
    });
  });
  return { pid, startedAt: startedAt.getTime(), result, interrupt, kill: () => pid !== null && signalGroup(pid, 'SIGKILL') };
}
