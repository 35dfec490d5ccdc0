import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupAlive } from '../support/supervisor-proc.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';
import { check, violations, type FinalJob } from './checker.ts';
import { parseHistory, readHistory, tracedJob } from './history.ts';

type Outcome = FinalJob['history'][number]['outcome'];

function final(id: string, state: FinalJob['state'], outcomes: Outcome[] = state === 'completed' ? ['completed'] : []): FinalJob {
  return {
    id,
    state,
    attempts: outcomes.filter((outcome) => outcome !== 'interrupted').length,
    recoveries: outcomes.filter((outcome) => outcome === 'interrupted').length,
    history: outcomes.map((outcome) => ({ outcome })),
  };
}

/** History lines for a run of `id` from `start` to `end` (null: killed), exit status `code`. */
function run(id: string, tag: string, start: number, end: number | null, code = 0): string[] {
  return [`start ${id} ${tag} ${start}`, ...(end === null ? [] : [`end ${id} ${tag} ${end} ${code}`])];
}

const enqueued = (...ids: string[]) => ids.flatMap((id) => [`invoke ${id} 1.0`, `ok ${id} 1.1`]);
const history = (...lines: string[][]) => parseHistory(lines.flat().join('\n') + '\n');

// ---

const checker = suite('the soak checker');

checker('passes a history where every acknowledged job ran once and completed, and counts it', () => {
  const report = check(history(enqueued('a', 'b'), run('a', 'r1', 2, 3), run('b', 'r2', 2, 4, 3), run('b', 'r3', 5, 6, 3)), [final('a', 'completed'), final('b', 'dead', ['failed', 'failed'])]);
  assert.is(violations(report), 0, JSON.stringify(report));
  assert.is(report.counts.acked, 2);
  assert.is(report.counts.runs, 3);
  assert.is(report.counts.jobsRunMoreThanOnce, 1);
  assert.equal(report.counts.byState, { completed: 1, dead: 1 });
});

checker('finds an acknowledged job missing from the final state: lost', () => {
  const report = check(history(enqueued('a', 'b')), [final('a', 'completed')]);
  assert.equal(report.lost, ['job b: acknowledged, but not in the final state']);
});

checker('finds a job that ran though its enqueue was never acknowledged, and then vanished: lost', () => {
  const report = check(history(['invoke m 1.0', 'info m 1.2 SIGKILL'], run('m', 'r1', 2, 3)), []);
  assert.equal(report.lost, ['job m: ran (so it was enqueued), but is not in the final state']);
});

checker('allows an unacknowledged job to be there or not', () => {
  const report = check(history(['invoke m 1.0', 'info m 1.2 SIGKILL', 'invoke n 1.0', 'info n 1.3 SIGKILL'], run('m', 'r1', 2, 3)), [final('m', 'completed')]);
  assert.is(violations(report), 0);
  assert.is(report.counts.maybe, 2);
  assert.is(report.counts.maybePresent, 1);
});

checker('finds jobs never enqueued, in the final state or running, and a refused job that is there anyway: unexpected', () => {
  const report = check(history(enqueued('a'), ['invoke r 1.0', 'fail r 1.5 exit-75'], run('a', 'r1', 2, 3), run('ghost', 'r2', 2, 3)), [final('a', 'completed'), final('stray', 'pending'), final('r', 'completed')]);
  assert.equal(report.unexpected.sort(), ['job ghost: ran, but was never enqueued', 'job r: in the final state, but its enqueue was refused (exit-75)', 'job stray: in the final state, but was never enqueued']);
});

checker('allows a second run explained by a recovery, but not one the history does not record: duplicated', () => {
  const explained = check(history(enqueued('a'), run('a', 'r1', 2, null), run('a', 'r2', 5, 6)), [final('a', 'completed', ['interrupted', 'completed'])]);
  assert.is(violations(explained), 0);
  const unexplained = check(history(enqueued('a'), run('a', 'r1', 2, 3), run('a', 'r2', 5, 6)), [final('a', 'completed')]);
  assert.equal(unexplained.duplicated, ['job a: 2 runs started, but its history records only 1 (completed)']);
  const twice = check(history(enqueued('a'), run('a', 'r1', 2, 3), run('a', 'r2', 5, 6)), [final('a', 'completed', ['completed', 'completed'])]);
  assert.equal(twice.duplicated, ['job a: its history records 2 completions']);
});

checker('finds two runs of one job alive at once, from the lock or from the times: overlapping', () => {
  const report = check(history(enqueued('a', 'b'), run('a', 'r1', 2, 6), run('a', 'r2', 5, 7), run('b', 'r3', 2, null), run('b', 'r4', 3, 4), ['overlap b 77 3.5']), [
    final('a', 'completed', ['completed', 'interrupted']),
    final('b', 'completed', ['interrupted', 'completed']),
  ]);
  assert.is(report.overlapping.length, 2, report.overlapping.join('\n'));
  assert.match(report.overlapping.join('\n'), /job b: run 77 found another run still holding the job's lock/);
  assert.match(report.overlapping.join('\n'), /job a: run r2 started at 5 before run r1 ended at 6/);
});

checker('finds a job left pending, failed or processing after the drain: stuck', () => {
  const report = check(history(enqueued('a', 'b', 'c')), [final('a', 'pending'), final('b', 'processing'), final('c', 'failed', ['failed'])]);
  assert.is(report.stuck.length, 3);
});

checker('finds a job recorded as completed that never ran to a successful end: phantom', () => {
  const report = check(history(enqueued('a', 'b'), run('a', 'r1', 2, 3, 1), run('b', 'r2', 2, null)), [final('a', 'completed'), final('b', 'completed')]);
  assert.is(report.phantom.length, 2);
});

checker('reports a line it cannot read', () => {
  const report = check(history(enqueued('a'), ['start a'], run('a', 'r1', 2, 3)), [final('a', 'completed')]);
  assert.is(report.integrity.length, 1);
});

checker.run();

// ---

const traced = suite('a traced job command');

type Paths = { history: string; locks: string };

/** A long traced run of job `j`, in a process group of its own, once it has recorded its start. */
async function longRun(paths: Paths): Promise<ReturnType<typeof spawn>> {
  const run = spawn('/bin/sh', ['-c', tracedJob('j', paths, 'true', 30)], { detached: true, stdio: 'ignore' });
  try {
    await waitFor(() => readHistory(paths.history).runs.get('j')?.length === 1, { what: 'the first run to start' });
  } catch (error) {
    process.kill(-run.pid!, 'SIGKILL');
    throw error;
  }
  return run;
}

/** A traced run of job `j` to its end; its exit status. */
function runToEnd(paths: Paths, body: string, seconds: number): number | null {
  return spawnSync('/bin/sh', ['-c', tracedJob('j', paths, body, seconds)]).status;
}

/** The pids named NAME in process group PGID. */
function inGroup(pgid: number, name: string): number[] {
  return spawnSync('pgrep', ['-g', String(pgid), '-x', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
}

traced('records its start and end with its exit status', () => {
  const { dir, cleanup } = tempDir();
  try {
    const paths = { history: path.join(dir, 'h'), locks: dir };
    assert.is(runToEnd(paths, '(exit 3)', 0.01), 3);
    const runs = readHistory(paths.history).runs.get('j');
    assert.is(runs?.length, 1);
    assert.is(runs?.[0]?.code, 3);
    assert.ok((runs?.[0]?.end ?? 0) >= (runs?.[0]?.start ?? Infinity));
  } finally {
    cleanup();
  }
});

traced('reports a second run while the first is alive, and not after the first was killed', async () => {
  const { dir, cleanup } = tempDir();
  const paths = { history: path.join(dir, 'h'), locks: dir };
  let first: ReturnType<typeof spawn> | null = null;
  try {
    first = await longRun(paths);
    assert.is(runToEnd(paths, 'true', 0), 99, 'the second run did not run its body');
    assert.is(readHistory(paths.history).overlaps.length, 1);

    const pgid = first.pid!;
    process.kill(-pgid, 'SIGKILL');
    await waitFor(() => !groupAlive(pgid), { what: 'the first run to die' });
    assert.is(runToEnd(paths, 'true', 0), 0, 'a killed run leaves no lock behind');
    const after = readHistory(paths.history);
    assert.is(after.overlaps.length, 1);
    assert.is(after.runs.get('j')?.length, 2);
  } finally {
    if (first && groupAlive(first.pid!)) process.kill(-first.pid!, 'SIGKILL');
    cleanup();
  }
});

traced('still reports the overlap while a leftover of a killed run lives on', async () => {
  const { dir, cleanup } = tempDir();
  const paths = { history: path.join(dir, 'h'), locks: dir };
  // Only the run's shells are killed: its sleep, holding the lock, survives them.
  let first: ReturnType<typeof spawn> | null = null;
  try {
    first = await longRun(paths);
    for (const pid of [...inGroup(first.pid!, 'sh'), ...inGroup(first.pid!, 'flock')]) process.kill(pid, 'SIGKILL');
    assert.ok(groupAlive(first.pid!), 'the sleep lives on');
    assert.is(runToEnd(paths, 'true', 0), 99);
    assert.is(readHistory(paths.history).overlaps.length, 1);
    assert.ok(fs.existsSync(path.join(dir, 'j')));
  } finally {
    if (first && groupAlive(first.pid!)) process.kill(-first.pid!, 'SIGKILL');
    cleanup();
  }
});

traced.run();
