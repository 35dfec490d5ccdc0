/**
 * A job's output log: `.queuectl/logs/<id>.log`, stdout and stderr of every attempt, each
 * between a start and an end marker line. The markers let `logs` show one attempt with its
 * start time, how it ended and how long it took.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Home } from './home.ts';

const START = /^--- queuectl: attempt (\d+) started (\S+): (.*)$/;
const END = /^--- queuectl: attempt (\d+) ended (\S+): (.*) after (\d+)ms$/;

export function logFile(home: Home, id: string): string {
  return path.join(home.logs, `${id}.log`);
}

export function startMarker(attempt: number, at: Date, command: string): string {
  return `--- queuectl: attempt ${attempt} started ${at.toISOString()}: ${command.replace(/\n/g, ' ')}\n`;
}

export function endMarker(attempt: number, at: Date, how: string, durationMs: number): string {
  return `--- queuectl: attempt ${attempt} ended ${at.toISOString()}: ${how} after ${durationMs}ms\n`;
}

export interface Section {
  attempt: number;
  started_at: string;
  command: string;
  end: { at: string; how: string; duration_ms: number } | null;
  output: string;
}

export function parseLog(text: string): Section[] {
  const sections: Section[] = [];
  let current: Section | null = null;
  for (const line of text.split('\n')) {
    const start = START.exec(line);
    const end = END.exec(line);
    if (start) {
      current = { attempt: Number(start[1]), started_at: start[2] as string, command: start[3] as string, end: null, output: '' };
      sections.push(current);
    } else if (end && current && Number(end[1]) === current.attempt) {
      current.end = { at: end[2] as string, how: end[3] as string, duration_ms: Number(end[4]) };
    } else if (current) {
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

export function removeLogs(home: Home, ids: Iterable<string>): void {
  for (const id of ids) fs.rmSync(logFile(home, id), { force: true });
}
