/**
 * A soak run's history: one file of lines appended with O_APPEND (each line is one write, so
 * lines from many processes never interleave), written by two kinds of writers:
 *
 *   invoke ID T              the soak is about to run `queuectl enqueue` for job ID
 *   ok ID T                  that enqueue exited 0 and printed ID: acknowledged
 *   fail ID T STATUS         it exited with a status that promises nothing changed (2, 4, 74, 75)
 *   info ID T HOW            anything else (killed, exit 1, …): the job may or may not exist
 *   start ID RUN T           a run of job ID began (written by the job itself, under its flock)
 *   end ID RUN T CODE        that run reached its end with exit status CODE
 *   overlap ID RUN T         a run of job ID found another run of it still holding its flock
 *
 * RUN is unique per run (the hostname it ran on, the job's shell pid and a nanosecond clock); T is
 * seconds since the epoch.
 */
import fs from 'node:fs';

/** Exit statuses after which `queuectl enqueue` promises it changed nothing. */
export const DEFINITE_FAILURES = [2, 4, 74, 75] as const;

export interface Run {
  id: string;
  run: string;
  start: number;
  /** Null for a run that never reached its end (it was killed). */
  end: number | null;
  code: number | null;
}

export interface History {
  invoked: Set<string>;
  acked: Set<string>;
  failed: Map<string, string>;
  maybe: Map<string, string>;
  runs: Map<string, Run[]>;
  overlaps: string[];
  /** Lines the parser did not understand: a torn or foreign line is a finding in itself. */
  garbage: string[];
}

export class HistoryWriter {
  private readonly fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  invoke(id: string): void {
    this.line('invoke', id);
  }

  outcome(id: string, status: number | null, signal: string | null, printed: readonly string[]): void {
    if (status === 0 && printed.includes(id)) this.line('ok', id);
    else if (status !== null && (DEFINITE_FAILURES as readonly number[]).includes(status)) this.line('fail', id, `exit-${status}`);
    else this.line('info', id, signal ?? `exit-${status}${status === 0 ? '-without-id' : ''}`);
  }

  private line(kind: string, id: string, ...rest: string[]): void {
    fs.writeSync(this.fd, `${[kind, id, (Date.now() / 1000).toFixed(6), ...rest].join(' ')}\n`);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export function parseHistory(text: string): History {
  const history: History = { invoked: new Set(), acked: new Set(), failed: new Map(), maybe: new Map(), runs: new Map(), overlaps: [], garbage: [] };
  const open = new Map<string, Run>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [kind, id, a, b, c] = line.split(' ');
    if (!id) {
      history.garbage.push(line);
      continue;
    }
    if (kind === 'invoke') history.invoked.add(id);
    else if (kind === 'ok') history.acked.add(id);
    else if (kind === 'fail') history.failed.set(id, b ?? '?');
    else if (kind === 'info') history.maybe.set(id, b ?? '?');
    else if (kind === 'start' && a && b) {
      const run: Run = { id, run: a, start: Number(b), end: null, code: null };
      open.set(`${id} ${a}`, run);
      history.runs.set(id, [...(history.runs.get(id) ?? []), run]);
    } else if (kind === 'end' && a && b && c !== undefined) {
      const run = open.get(`${id} ${a}`);
      if (!run) history.garbage.push(`${line} (an end without its start)`);
      else {
        run.end = Number(b);
        run.code = Number(c);
      }
    } else if (kind === 'overlap') history.overlaps.push(`job ${id}: run ${a} found another run still holding the job's lock at ${b}`);
    else history.garbage.push(line);
  }
  for (const runs of history.runs.values()) runs.sort((x, y) => x.start - y.start);
  return history;
}

export function readHistory(file: string): History {
  return parseHistory(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
}

/**
 * A job command that records its run in the history and detects, exactly, a second run of the
 * same job while the first is alive: every run takes `flock -n` on the job's lock file, which
 * the kernel releases only when the last process holding it is gone (a killed run's leftovers
 * keep it), so a killed run never causes a false alarm and a surviving one never escapes.
 */
export function tracedJob(id: string, paths: { history: string; locks: string }, body: string, seconds: number): string {
  const script = [
    `r=$(hostname).$$.$(date +%s%N)`,
    `echo "start ${id} $r $(date +%s.%N)" >> ${paths.history}`,
    `sleep ${seconds.toFixed(3)}`,
    `${body}`,
    `c=$?`,
    `echo "end ${id} $r $(date +%s.%N) $c" >> ${paths.history}`,
    `exit $c`,
  ].join('; ');
  if (script.includes("'")) throw new Error(`a traced job body must not hold single quotes: ${body}`);
  return `flock -n -E 99 ${paths.locks}/${id} -c '${script}'; c=$?; [ $c -ne 99 ] || echo "overlap ${id} $$ $(date +%s.%N)" >> ${paths.history}; exit $c`;
}
