/**
 * A job's output log: `.queuectl/logs/<id>.log`, stdout and stderr of every run, each between a
 * start marker line and a line that says how it ended: `ended` (the command exited) or
 * `interrupted` (a crash, a forced stop, a cancel), written by whoever learned it. The markers
 * let `logs` show each run with its attempt, start time, end and duration.
 *
 * Runs are what `show` numbers RUN 1, 2, 3: an interrupted run does not spend an attempt, so two
 * runs may belong to the same attempt.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Home } from '../store/home.ts';
import type { Job } from '../lifecycle/job.ts';

export const MARKER_PREFIX = '--- queuectl: ';
const START = /^--- queuectl: attempt (\d+) started (\S+): (.*)$/;
const END = /^--- queuectl: attempt (\d+) (ended|interrupted) (\S+): (.*) after (\d+)ms$/;

export function logFile(home: Home, id: string): string {
  return path.join(home.logs, `${id}.log`);
}

export function startMarker(attempt: number, at: Date, command: string): string {
  return `${MARKER_PREFIX}attempt ${attempt} started ${at.toISOString()}: ${command.replace(/\n/g, ' ')}\n`;
}

export function endMarker(attempt: number, at: Date, how: string, durationMs: number): string {
  return `${MARKER_PREFIX}attempt ${attempt} ended ${at.toISOString()}: ${how} after ${durationMs}ms\n`;
}

export function interruptedMarker(attempt: number, at: Date, why: string, durationMs: number): string {
  return `${MARKER_PREFIX}attempt ${attempt} interrupted ${at.toISOString()}: ${why.replace(/\n/g, ' ')} after ${Math.max(0, durationMs)}ms\n`;
}

export interface RunEnd {
  at: string;
  how: string;
  duration_ms: number;
  interrupted: boolean;
}

export interface Section {
  /** 1 for the first run of this job. */
  run: number;
  attempt: number;
  started_at: string;
  command: string;
  end: RunEnd | null;
  output: string;
}

export type LogLine =
  | { kind: 'start'; attempt: number; started_at: string; command: string }
  | { kind: 'end'; attempt: number; end: RunEnd }
  | { kind: 'output' };

export function classifyLine(line: string): LogLine {
  if (!line.startsWith(MARKER_PREFIX)) return { kind: 'output' };
  const start = START.exec(line);
  if (start) return { kind: 'start', attempt: Number(start[1]), started_at: start[2] as string, command: start[3] as string };
  const end = END.exec(line);
  if (end) return { kind: 'end', attempt: Number(end[1]), end: { at: end[3] as string, how: end[4] as string, duration_ms: Number(end[5]), interrupted: end[2] === 'interrupted' } };
  return { kind: 'output' };
}

/**
 * The runs in a log. Runs that started before `since` (the job's creation) belong to an earlier
 * job that had the same id, in a log written before such logs were set aside: they are left out.
 */
export function parseLog(text: string, since: string | null = null): Section[] {
  const sections: Section[] = [];
  let current: Section | null = null;
  let skipping = false;
  const lines = text.split('\n');
  // The newline that ends the last line does not begin another.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const kind = classifyLine(line);
    if (kind.kind === 'start') {
      skipping = since !== null && kind.started_at < since;
      current = skipping ? null : { run: sections.length + 1, attempt: kind.attempt, started_at: kind.started_at, command: kind.command, end: null, output: '' };
      if (current) sections.push(current);
    } else if (kind.kind === 'end' && current && kind.attempt === current.attempt && current.end === null) {
      current.end = kind.end;
    } else if (current && !skipping) {
      current.output += `${line}\n`;
    }
  }
  for (const section of sections) section.output = section.output.replace(/\n$/, '');
  return sections;
}

export function readLog(home: Home, id: string): string | null {
  try {
    return fs.readFileSync(logFile(home, id), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** This job's runs, and none of an earlier job that had the same id. */
export function readRuns(home: Home, job: Job): Section[] {
  return parseLog(readLog(home, job.id) ?? '', job.created_at);
}

/**
 * A new job that reuses an archived job's id starts a log of its own: the earlier job's log moves
 * to `logs/earlier/<id>.<its first run's start>.log`, still plain text to read. Called before a
 * run writes its start marker.
 */
export function setAsideOlderLog(file: string, createdAt: string): void {
  let head: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(4096);
      head = buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const first = classifyLine(head.split('\n')[0] ?? '');
  if (first.kind !== 'start' || first.started_at >= createdAt) return;
  const earlier = earlierLogs(path.dirname(file));
  fs.mkdirSync(earlier, { recursive: true, mode: 0o700 });
  fs.renameSync(file, path.join(earlier, path.basename(file).replace(/\.log$/, `.${first.started_at.replace(/:/g, '-')}.log`)));
}

/** Where the logs of earlier jobs whose ids were used again are kept. */
function earlierLogs(logs: string): string {
  return path.join(logs, 'earlier');
}

/**
 * Ends the log of a crashed run with a line that says so and why; the run is the job's current
 * claim. A run writes its start marker before it spawns anything, so a claim with no start marker
 * never ran: nothing is written, and `false` says so. Nothing is written either if the run already
 * has an end (a second supervisor recovering the same run, or a retried commit).
 */
export function logInterruption(home: Home, job: Job, why: string, now: Date): boolean {
  if (!job.started_at) return false;
  const text = readLog(home, job.id) ?? '';
  const last = parseLog(text, job.created_at).at(-1);
  if (last === undefined || last.started_at < job.started_at) return false;
  if (last.end !== null) return true;
  const file = logFile(home, job.id);
  const lines = `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${interruptedMarker(job.attempts + 1, now, why, now.getTime() - Date.parse(last.started_at))}`;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, lines, { mode: 0o600 });
  return true;
}

/** Removes these jobs' logs, with the logs of earlier jobs that had the same ids. */
export function removeLogs(home: Home, ids: Iterable<string>): void {
  const doomed = new Set(ids);
  for (const id of doomed) fs.rmSync(logFile(home, id), { force: true });
  let names: string[];
  try {
    names = fs.readdirSync(earlierLogs(home.logs));
  } catch {
    return;
  }
  for (const name of names) {
    // Every name there ends with the start time: what is left is the id.
    const id = name.replace(/\.[^.]+\.\d+Z\.log$/, '');
    if (doomed.has(id)) fs.rmSync(path.join(earlierLogs(home.logs), name), { force: true });
  }
}
