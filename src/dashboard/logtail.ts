/**
 * The end of a job's log for its page, rendered as `logs` renders it. Only the last
 * LOG_TAIL_BYTES are read as text; the part before is only scanned for run start lines, so
 * that runs keep the numbers `logs` gives them and a run that began before the end still has
 * its header.
 */
import fs from 'node:fs';
import { renderRuns } from '../cli/logview.ts';
import type { Job } from '../lifecycle/job.ts';
import type { Home } from '../store/home.ts';
import { classifyLine, logFile, MARKER_PREFIX, parseLog } from '../supervisor/joblog.ts';
import { LOG_TAIL_BYTES } from './knobs.ts';

export interface LogTail {
  text: string;
  /** The log is longer than what is shown. */
  cut: boolean;
}

const NEEDLE = Buffer.from(`\n${MARKER_PREFIX}`);
/** The scan of the part before the end reads this much at a time. */
const SCAN_CHUNK = 1024 * 1024;

/** The job's log as `logs` prints it, or its end; null when there is no log. */
export function readLogTail(home: Home, job: Job, maxBytes = LOG_TAIL_BYTES): LogTail | null {
  let fd: number;
  try {
    fd = fs.openSync(logFile(home, job.id), 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    // The end begins at a whole line, so that a start line is never read in halves.
    const newline = length < size ? buffer.indexOf(0x0a) : -1;
    const tail = newline < 0 ? buffer : buffer.subarray(newline + 1);
    const head = size - tail.length;
    const before = head > 0 ? scanStarts(fd, head, job.created_at) : { counted: 0, last: null };
    // A run that began before the end keeps its header: its start line is put back in front.
    const text = before.last === null ? tail.toString('utf8') : `${before.last.line}\n${tail.toString('utf8')}`;
    const offset = before.counted - (before.last?.counted ? 1 : 0);
    const sections = parseLog(text, job.created_at).map((section) => ({ ...section, run: section.run + offset }));
    return { text: renderRuns(sections, job.state === 'processing'), cut: head > 0 };
  } finally {
    fs.closeSync(fd);
  }
}

interface Start {
  line: string;
  attempt: number;
  /** Whether it is a run of this job, not of an earlier one with its id. */
  counted: boolean;
}

/**
 * The run start lines in the first `end` bytes: how many belong to this job (since `since`), and
 * the last one if its run has not ended there.
 */
function scanStarts(fd: number, end: number, since: string): { counted: number; last: Start | null } {
  let counted = 0;
  let last: Start | null = null;
  // The file's first line is a line start too.
  let carry = Buffer.from('\n');
  for (let at = 0; at < end; ) {
    const chunk = Buffer.alloc(Math.min(SCAN_CHUNK, end - at));
    const read = fs.readSync(fd, chunk, 0, chunk.length, at);
    if (read <= 0) break;
    at += read;
    const text = Buffer.concat([carry, chunk.subarray(0, read)]);
    // What may hold the beginning of a marker cut by the chunk's end.
    carry = text.subarray(Math.max(0, text.length - NEEDLE.length + 1));
    for (let from = 0; ; ) {
      const hit = text.indexOf(NEEDLE, from);
      if (hit < 0) break;
      const eol = text.indexOf(0x0a, hit + 1);
      if (eol < 0) {
        carry = text.subarray(hit);
        break;
      }
      const line = text.subarray(hit + 1, eol).toString('utf8');
      const kind = classifyLine(line);
      if (kind.kind === 'start') {
        const mine = kind.started_at >= since;
        if (mine) counted++;
        last = { line, attempt: kind.attempt, counted: mine };
      } else if (kind.kind === 'end' && last?.attempt === kind.attempt) {
        last = null;
      }
      from = eol;
    }
  }
  return { counted, last };
}
