/**
 * Traced jobs: a shell command that appends "start ID GROUP TIME" when it begins and
 * "end ID GROUP TIME" when it finishes to a shared file (O_APPEND lines are atomic), so a test
 * can count the runs of every job and check that no two runs of one job overlapped. GROUP is
 * the run's process group (`$$`: the job's sh leads a group of its own).
 */
import fs from 'node:fs';

export interface RunRecord {
  id: string;
  group: number;
  start: number;
  /** Null for a run that never got to its end: it was killed. */
  end: number | null;
}

/**
 * Exports E2E_JOB so every child of the run (the sleep) carries the job id for RunWatch.
 * `seconds` may be a shell expression, evaluated when the run starts.
 */
export function tracedCommand(id: string, file: string, seconds: number | string): string {
  return `export E2E_JOB=${id}; echo "start ${id} $$ $(date +%s.%N)" >> '${file}'; sleep "${seconds}"; echo "end ${id} $$ $(date +%s.%N)" >> '${file}'`;
}

export function readRuns(file: string): Map<string, RunRecord[]> {
  const runs = new Map<string, RunRecord[]>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const [kind, id, group, time] = line.split(' ');
    if ((kind !== 'start' && kind !== 'end') || !id || !group || !time) throw new Error(`unexpected line in ${file}: ${JSON.stringify(line)}`);
    const list = runs.get(id) ?? [];
    runs.set(id, list);
    if (kind === 'start') list.push({ id, group: Number(group), start: Number(time), end: null });
    else {
      const run = list.find((candidate) => candidate.group === Number(group));
      if (!run) throw new Error(`${file}: "end" without a "start": ${line}`);
      run.end = Number(time);
    }
  }
  for (const list of runs.values()) list.sort((a, b) => a.start - b.start);
  return runs;
}

/** A duration that is `first` seconds on a job's first run and `later` seconds on every other one. */
export function firstRunLasts(first: number, later: number, flag: string): string {
  return `$(if [ -e '${flag}' ]; then echo ${later}; else touch '${flag}'; echo ${first}; fi)`;
}

/** Runs of one job that overlap in time: a run must end before the next one starts. */
export function overlapsIn(runs: Map<string, RunRecord[]>): string[] {
  const found: string[] = [];
  for (const [id, list] of runs) {
    for (let i = 1; i < list.length; i++) {
      const before = list[i - 1] as RunRecord;
      const after = list[i] as RunRecord;
      if (before.end !== null && before.end > after.start) {
        found.push(`job ${id}: run in group ${before.group} ended at ${before.end}, after run in group ${after.group} started at ${after.start}`);
      }
    }
  }
  return found;
}
