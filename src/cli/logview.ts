/**
 * How a job's log looks to a person: each run under a header naming its run number (as `show`
 * numbers them), the attempt it belonged to, its start, and how it ended. `logs` prints a log
 * whole; `logs --follow` feeds it in as it grows and prints the same headers.
 */
import { formatDuration } from '../lifecycle/duration.ts';
import { classifyLine, MARKER_PREFIX, type RunEnd, type Section } from '../supervisor/joblog.ts';

export function describeEnd(end: RunEnd): string {
  return end.interrupted ? `interrupted: ${end.how}, after ${formatDuration(end.duration_ms)}` : `${end.how}, took ${formatDuration(end.duration_ms)}`;
}

/** `open` says what a run without an end line is: still running, or cut short before logs said so. */
export function runHeader(section: Omit<Section, 'output'>, open: 'running' | 'no end recorded' = 'running'): string {
  return `=== run ${section.run} · attempt ${section.attempt} · started ${section.started_at} · ${section.end ? describeEnd(section.end) : open} ===`;
}

/** What `logs` prints: every run under its header, a blank line between runs. */
export function renderRuns(sections: readonly Section[], running: boolean): string {
  return sections
    .map((section, index) => {
      const open = running && index === sections.length - 1 ? 'running' : 'no end recorded';
      return [runHeader(section, open), section.output].filter(Boolean).join('\n');
    })
    .join('\n\n');
}

/**
 * Turns appended log text into what `logs --follow` prints. A run that starts and ends within one
 * piece of text gets exactly the header `logs` gives it; one still running when a piece ends gets
 * a `running` header, and a closing line of its own when it ends. Output is printed as it comes,
 * even a line not yet ended, unless it could be the start of a marker line.
 */
export class LogFollower {
  private pending = '';
  private midLine = false;
  private runs = 0;
  private current: (Omit<Section, 'output'> & { held: string | null }) | null = null;

  constructor(
    private readonly since: string,
    private readonly raw: boolean,
  ) {}

  /** A run has started and its end has not been seen yet. */
  get open(): boolean {
    return this.current !== null && this.current.end === null;
  }

  feed(text: string): string {
    this.pending += text;
    let out = '';
    const emit = (piece: string) => {
      if (this.current === null) return;
      if (this.current.held !== null) this.current.held += piece;
      else out += piece;
    };
    for (;;) {
      const newline = this.pending.indexOf('\n');
      if (newline < 0) {
        const partial = this.pending;
        if (partial && (this.midLine || !(partial.startsWith(MARKER_PREFIX) || MARKER_PREFIX.startsWith(partial)))) {
          emit(partial);
          this.midLine = true;
          this.pending = '';
        }
        break;
      }
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      if (this.midLine) {
        emit(`${line}\n`);
        this.midLine = false;
        continue;
      }
      const kind = classifyLine(line);
      if (kind.kind === 'start') {
        out += this.release('no end recorded');
        if (kind.started_at < this.since) {
          this.current = null;
          continue;
        }
        this.runs++;
        const separator = this.runs > 1 && !this.raw ? '\n' : '';
        out += separator;
        this.current = { run: this.runs, attempt: kind.attempt, started_at: kind.started_at, command: kind.command, end: null, held: '' };
      } else if (kind.kind === 'end' && this.current && this.current.end === null && kind.attempt === this.current.attempt) {
        this.current.end = kind.end;
        if (this.current.held !== null) out += this.release('running');
        else if (!this.raw) out += `=== run ${this.current.run} ${kind.end.interrupted ? 'ended,' : 'ended:'} ${describeEnd(kind.end)} ===\n`;
      } else {
        emit(`${line}\n`);
      }
    }
    return out + this.release('running');
  }

  /** Prints the held header and output of the current run, if they are still held. */
  private release(open: 'running' | 'no end recorded'): string {
    const current = this.current;
    if (current === null || current.held === null) return '';
    const held = current.held;
    current.held = null;
    return this.raw ? held : `${runHeader(current, open)}\n${held}`;
  }
}
