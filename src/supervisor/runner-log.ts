/**
 * A run's log file and its cap. The job writes straight to the log file's descriptor, stdout and
 * stderr alike: no pipes, no copying through this process, and nothing to drain once `sh` has
 * exited. Measured on 1,000 `true` jobs, two pipes per job cost about a tenth of a bare spawn
 * loop's throughput. So the cap is kept by cutting the file back (while the job runs and when it
 * ends), and the last line is read back from the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { endMarker, interruptedMarker, setAsideOlderLog, startMarker } from './joblog.ts';

/** How much of the end of the output is read back for the last line. */
const TAIL_BYTES = 4096;

function lastLine(text: string): string | null {
  const line = text.split('\n').map((part) => part.trim()).filter(Boolean).at(-1);
  return line ? line.slice(0, 300) : null;
}

/**
 * A run's output in its log file: everything from `start` on, written by the job itself through
 * an inherited descriptor opened for append.
 */
export class Output {
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

export interface RunLog {
  /** The descriptor the job writes to, as its stdout and stderr. */
  fd: number;
  output: Output;
}

export interface LogRequest {
  logFile: string;
  logMaxBytes: number;
  attempt: number;
  command: string;
  createdAt: string;
}

/** Opens the job's log for this run and writes the run's start marker. */
export function openRunLog(request: LogRequest, startedAt: Date): RunLog {
  // Output can hold secrets (the job's env among them): private, like the rest of the store.
  fs.mkdirSync(path.dirname(request.logFile), { recursive: true, mode: 0o700 });
  setAsideOlderLog(request.logFile, request.createdAt);
  // Opened for reading too: the last line and the last byte are read back through it.
  const fd = fs.openSync(request.logFile, 'a+', 0o600);
  fs.writeSync(fd, startMarker(request.attempt, startedAt, request.command));
  return { fd, output: new Output(fd, fs.fstatSync(fd).size, request.logMaxBytes) };
}

/**
 * Ends the output, writes the run's end marker (`ended ... how`, or `interrupted ... why`) and
 * closes the log; returns the output's last line, read back once the output has ended.
 */
export function closeRunLog(log: RunLog, attempt: number, finishedAt: Date, tookMs: number, how: string, interrupted: string | null): string | null {
  const tail = log.output.close();
  fs.writeSync(log.fd, interrupted === null ? endMarker(attempt, finishedAt, how, tookMs) : interruptedMarker(attempt, finishedAt, interrupted, tookMs));
  fs.closeSync(log.fd);
  return tail;
}
