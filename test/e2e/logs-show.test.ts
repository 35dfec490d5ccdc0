import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import { fromStored, type StoredJob } from '../../src/lifecycle/jobfile/keys.ts';
import * as assert from 'uvu/assert';
import { formatDuration } from '../../src/lifecycle/duration.ts';
import type { Job } from '../../src/lifecycle/job.ts';
import { parseLog } from '../../src/supervisor/joblog.ts';
import { BIN, cleanEnv } from '../support/cli.ts';
import type { Sandbox } from '../support/supervisor-sandbox.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** A queuectl command left running, with what it printed so far; the sandbox kills it at the end. */
class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(s: Sandbox, args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: s.dir, env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.child.on('close', (code, signal) => (this.exit = { code, signal }));
  }
}

/** A job that fails twice, printing which attempt it is, then is dead (backoff 1 s). */
async function failedTwice(s: Sandbox): Promise<Job> {
  s.ok('config', 'set', 'backoff-base', '1');
  s.ok('enqueue', '--id', 'flaky', '--max-retries', '2', '--', 'echo "run $QUEUECTL_ATTEMPT"; echo "oops $QUEUECTL_ATTEMPT" >&2; exit 3');
  await s.start(1);
  return s.waitJob('flaky', (j) => j.state === 'dead', 'to be dead after two attempts', 6_000);
}

function header(job: Job, index: number): string {
  const attempt = job.history[index]!;
  assert.is(attempt.exit_code, 3);
  return `=== run ${index + 1} · attempt ${index + 1} · started ${attempt.started_at} · exit code 3, took ${formatDuration(attempt.duration_ms)} ===`;
}

// ---

const logs = suite('logs');

scenario(logs, 'prints each run under a header with its run and attempt numbers, start time, exit code and duration', async (s) => {
  const job = await failedTwice(s);
  const out = s.ok('logs', 'flaky');
  assert.is(out, `${header(job, 0)}\nrun 1\noops 1\n\n${header(job, 1)}\nrun 2\noops 2\n`);
});

scenario(logs, '--attempt 2 prints only the run of the second attempt', async (s) => {
  const job = await failedTwice(s);
  const out = s.ok('logs', 'flaky', '--attempt', '2');
  assert.is(out, `${header(job, 1)}\nrun 2\noops 2\n`);
});

scenario(logs, '--follow streams output written after it started, and exits when the job finishes', async (s) => {
  const gate = (name: string) => `while [ ! -e '${s.path(name)}' ]; do sleep 0.05; done`;
  s.ok('enqueue', '--id', 'chatty', '--', `echo first; ${gate('go1')}; echo second; ${gate('go2')}; echo third`);
  await s.start(1);
  const log = s.path('.queuectl', 'logs', 'chatty.log');
  await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').split('\n').includes('first'), { what: 'the job to print its first line' });

  // Whole lines only: the log's start marker repeats the command, which holds every word.
  const follow = new Background(s, ['logs', 'chatty', '--follow']);
  const printed = (line: string) => follow.stdout.split('\n').includes(line);
  await waitFor(() => printed('first'), { timeout: 5_000, what: 'logs --follow to print the output so far' });
  assert.not.ok(printed('second'));
  fs.writeFileSync(s.path('go1'), '');
  await waitFor(() => printed('second'), { timeout: 5_000, what: `logs --follow to print a line written after it started; printed so far:\n${follow.stdout}` });
  assert.is(s.job('chatty').state, 'processing', 'the line came while the job still ran');
  assert.is(follow.exit, null, 'logs --follow keeps running while the job runs');

  fs.writeFileSync(s.path('go2'), '');
  await s.waitJob('chatty', (j) => j.state === 'completed', 'to complete');
  await waitFor(() => follow.exit, { timeout: 3_000, what: 'logs --follow to exit once the job finished' });
  assert.equal(follow.exit, { code: 0, signal: null });
  const lines = follow.stdout.split('\n');
  const [first, second, third] = ['first', 'second', 'third'].map((word) => lines.indexOf(word));
  assert.ok(first! >= 0 && first! < second! && second! < third!, `first, second and third in order:\n${follow.stdout}`);
  assert.not.match(follow.stdout, /--- queuectl:/, 'no raw marker lines');
  const started = parseLog(fs.readFileSync(log, 'utf8'))[0]!.started_at;
  assert.is(lines[0], `=== run 1 · attempt 1 · started ${started} · running ===`, 'the header logs gives a running run');
  assert.match(follow.stdout, /\nthird\n=== run 1 ended: exit code 0, took \S+ ===\n=== job chatty completed ===\n$/);
});

scenario(logs, '--follow of a finished job prints exactly what logs prints, then a closing line; --raw prints the output alone', async (s) => {
  const job = await failedTwice(s);
  const follow = new Background(s, ['logs', 'flaky', '--follow']);
  await waitFor(() => follow.exit, { timeout: 5_000, what: 'logs --follow of a dead job to exit' });
  assert.equal(follow.exit, { code: 0, signal: null });
  assert.is(follow.stdout, `${s.ok('logs', 'flaky')}=== job flaky dead: ${job.last_error} ===\n`);
  assert.is(s.ok('logs', 'flaky', '--raw'), 'run 1\noops 1\nrun 2\noops 2\n');
  assert.is(s.ok('logs', 'flaky', '--raw', '--attempt', '2'), 'run 2\noops 2\n');
  const raw = new Background(s, ['logs', 'flaky', '--follow', '--raw']);
  await waitFor(() => raw.exit, { timeout: 5_000, what: 'logs --follow --raw to exit' });
  assert.is(raw.stdout, 'run 1\noops 1\nrun 2\noops 2\n');
});

scenario(logs, '--attempt N of an attempt with no output exits 3 and says which attempts have some', async (s) => {
  await failedTwice(s);
  const result = s.q('logs', 'flaky', '--attempt', '3');
  assert.is(result.status, 3);
  assert.is(result.stdout, '');
  assert.is(result.stderr, 'queuectl: job flaky has no output for attempt 3: its log has attempts 1, 2 (dead); see queuectl show flaky\n');
  s.ok('enqueue', '--id', 'waiting', '--delay', '1h', '--', 'true');
  const none = s.q('logs', 'waiting', '--attempt', '1');
  assert.is(none.status, 3);
  assert.match(none.stderr, /job waiting has no output for attempt 1: it has no output yet \(pending\)/);
});

scenario(logs, 'cancelling a running job ends its run with a cancelled line, and --follow with a closing line', async (s) => {
  s.ok('config', 'set', 'kill-grace', '1s');
  s.ok('enqueue', '--id', 'doomed', '--', `echo working; touch '${s.path('started')}'; sleep 30`);
  await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });
  const follow = new Background(s, ['logs', 'doomed', '--follow']);
  await waitFor(() => follow.stdout.includes('working\n'), { timeout: 5_000, what: 'logs --follow to print the output so far' });

  assert.is(s.ok('cancel', 'doomed'), 'cancelled doomed\n');
  await waitFor(() => follow.exit, { timeout: 8_000, what: `logs --follow to exit once the job is cancelled; printed so far:\n${follow.stdout}` });
  assert.equal(follow.exit, { code: 0, signal: null });
  assert.match(follow.stdout, /\nworking\n=== run 1 ended, interrupted: cancelled, after \S+ ===\n=== job doomed cancelled ===\n$/);

  const job = s.job('doomed');
  assert.is(job.state, 'cancelled');
  assert.is(job.recoveries, 0, 'a cancel is not a crash');
  assert.equal(job.history.map((entry) => [entry.outcome, entry.error]), [['interrupted', 'cancelled']]);
  const out = s.ok('logs', 'doomed');
  assert.match(out, /^=== run 1 · attempt 1 · started \S+ · interrupted: cancelled, after \S+ ===\nworking\n$/);
  assert.match(s.ok('show', 'doomed'), /^1\s+\S+\s+\S+\s+interrupted\s+-\s+cancelled$/m);
});

scenario(logs, 'a new job with the id of an archived one gets a log of its own; the earlier log is kept under logs/earlier/ until clean', async (s) => {
  s.ok('config', 'set', 'keep-finished', '1');
  s.ok('enqueue', '--id', 'reused', '--', 'echo first job');
  const supervisor = await s.start(1);
  await s.waitJob('reused', (j) => j.state === 'completed', 'to complete');
  s.ok('enqueue', '--id', 'filler-1', '--', 'true');
  s.ok('enqueue', '--id', 'filler-2', '--', 'true');
  await s.waitJobs((jobs) => !jobs.some((job) => job.id === 'reused') && jobs.every((job) => job.state === 'completed'), 'the first job to be archived');
  const before = s.ok('logs', 'reused');
  assert.match(before, /^=== run 1 · attempt 1 · started \S+ · exit code 0, took \S+ ===\nfirst job\n$/);

  s.ok('enqueue', '--id', 'reused', '--', 'echo second job');
  await s.waitJob('reused', (j) => j.state === 'completed', 'the new job to complete');
  assert.match(s.ok('logs', 'reused'), /^=== run 1 · attempt 1 · started \S+ · exit code 0, took \S+ ===\nsecond job\n$/);
  assert.is(s.ok('logs', 'reused', '--raw'), 'second job\n');
  const earlier = s.path('.queuectl', 'logs', 'earlier');
  const files = fs.readdirSync(earlier);
  assert.is(files.length, 1, `one earlier log: ${files.join(', ')}`);
  assert.match(files[0]!, /^reused\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log$/, 'named by the id and its first run\'s start');
  assert.match(fs.readFileSync(path.join(earlier, files[0]!), 'utf8'), /^first job$/m);
  assert.not.match(fs.readFileSync(s.path('.queuectl', 'logs', 'reused.log'), 'utf8'), /first job/);

  assert.ok(supervisor.running);
  s.ok('clean');
  assert.equal(fs.readdirSync(earlier), [], 'clean removes the earlier job\'s log with it');
  assert.not.ok(fs.existsSync(s.path('.queuectl', 'logs', 'reused.log')));
});

scenario(logs, 'output that does not end with a newline still gets its header with the exit code and duration', async (s) => {
  s.ok('enqueue', '--id', 'partial', '--max-retries', '1', '--', 'printf "no newline"; exit 3');
  await s.start(1);
  const job = await s.waitJob('partial', (j) => j.state === 'dead', 'to be dead');
  assert.is(s.ok('logs', 'partial'), `${header(job, 0)}\nno newline\n`);
});

scenario(logs, 'output beyond log-max-bytes is cut with a note, whether it comes at once or while the job runs on', async (s) => {
  s.ok('config', 'set', 'log-max-bytes', '1024');
  // 5,000 bytes at once, then a last line that falls beyond the cap.
  s.ok('enqueue', '--id', 'burst', '--max-retries', '1', '--', 'yes 0123456789 | head -c 5000; echo last words >&2; exit 3');
  // Output that keeps coming for longer than the checks while it runs (every 100 ms).
  s.ok('enqueue', '--id', 'stream', '--', 'i=0; while [ $i -lt 40 ]; do yes abcdefghi | head -c 2000; sleep 0.02; i=$((i+1)); done');
  await s.start(2);
  const burst = await s.waitJob('burst', (j) => j.state === 'dead', 'to be dead');
  await s.waitJob('stream', (j) => j.state === 'completed', 'to complete');
  const kept = '0123456789\n'.repeat(94).slice(0, 1024);
  assert.is(s.ok('logs', 'burst', '--raw'), `${kept}\n[queuectl: output cut at 1024 bytes]\n`);
  assert.is(burst.last_error, 'exit code 3', 'the last line was cut: no line is quoted');
  const stream = fs.readFileSync(s.path('.queuectl', 'logs', 'stream.log'), 'utf8');
  assert.ok(stream.includes(`\n${'abcdefghi\n'.repeat(103).slice(0, 1024)}\n[queuectl: output cut at 1024 bytes]\n--- queuectl: attempt 1 ended `), stream.slice(0, 2000));
  assert.ok(stream.length < 1024 + 400, `${stream.length} bytes in the log`);
});

scenario(logs, 'stdout and stderr keep their order in the log, and the last line of output is in last_error', async (s) => {
  s.ok('enqueue', '--id', 'mixed', '--max-retries', '1', '--', 'echo one; echo two >&2; echo three; echo "it broke" >&2; exit 5');
  await s.start(1);
  const job = await s.waitJob('mixed', (j) => j.state === 'dead', 'to be dead');
  assert.is(s.ok('logs', 'mixed', '--raw'), 'one\ntwo\nthree\nit broke\n');
  assert.is(job.last_error, 'exit code 5: it broke');
});

scenario(logs, 'an unknown id exits 3', async (s) => {
  s.ok('enqueue', '--id', 'known', '--', 'true');
  const result = s.q('logs', 'nosuch');
  assert.is(result.status, 3);
  assert.is(result.stdout, '');
  assert.match(result.stderr, /no job with id "nosuch"/);
  assert.is(s.q('logs', 'nosuch', '--follow').status, 3);
});

// ---

const show = suite('show');

scenario(show, 'prints the state, the attempts and one history row per attempt', async (s) => {
  const job = await failedTwice(s);
  const out = s.ok('show', 'flaky');
  assert.match(out, /^id:\s+flaky$/m);
  assert.match(out, /^state:\s+dead$/m);
  assert.match(out, /^runs:\s+2 of 2$/m);
  assert.match(out, /^last error:\s+exit code 3: oops 2$/m);
  assert.match(out, /^log:\s+\.queuectl\/logs\/flaky\.log$/m);
  const lines = out.split('\n');
  const headerAt = lines.findIndex((line) => /^RUN\s+STARTED\s+TOOK\s+OUTCOME\s+EXIT\s+NEXT\s+ERROR\s*$/.test(line));
  assert.ok(headerAt > 0, `a history table in:\n${out}`);
  const rows = lines.slice(headerAt + 1).filter(Boolean);
  assert.is(rows.length, 2);
  for (const [index, row] of rows.entries()) {
    const attempt = job.history[index]!;
    assert.match(row, new RegExp(`^${index + 1}\\s+${attempt.started_at.replace(/\./g, '\\.')}\\s+${formatDuration(attempt.duration_ms)}\\s+failed\\s+3\\s`), row);
    assert.match(row, new RegExp(`exit code 3: oops ${index + 1}\\s*$`), row);
  }
  assert.match(rows[0]!, /\bretry \S+ ago\b/, 'the first attempt names its retry');
});

scenario(show, '--json prints exactly one JSON object, equal to the job in list --json', async (s) => {
  await failedTwice(s);
  s.ok('enqueue', '--id', 'other', '--delay', '1h', '--', 'true');
  const out = s.ok('show', 'flaky', '--json');
  const shown = JSON.parse(out) as unknown;
  assert.ok(typeof shown === 'object' && shown !== null && !Array.isArray(shown), 'an object');
  const listed = s.json<Job[]>('list', '--json').find((job) => job.id === 'flaky');
  assert.equal(shown, listed);
  assert.equal(shown, fromStored(s.job('flaky') as StoredJob), 'the stored job, with the workflow fields at their defaults');
  assert.is(s.q('show', 'nosuch', '--json').status, 3);
});

scenario(show, 'gives a run the start time that logs gives it, while it runs and once it has finished', async (s) => {
  s.ok('enqueue', '--id', 'one', '--', `echo hi; while [ ! -e '${s.path('go')}' ]; do sleep 0.05; done`);
  await s.start(1);
  const headerStart = async () => {
    const out = await waitFor(() => /^=== run 1 · attempt 1 · started (\S+) ·/.exec(s.ok('logs', 'one'))?.[1], { what: 'the run to log its start' });
    return out;
  };
  const shownStart = () => /^started: +(\S+) /m.exec(s.ok('show', 'one'))?.[1];
  await s.waitJob('one', (job) => job.state === 'processing', 'to start');
  assert.is(shownStart(), await headerStart(), 'while it runs');
  fs.writeFileSync(s.path('go'), '');
  const job = await s.waitJob('one', (j) => j.state === 'completed', 'to complete');
  assert.is(shownStart(), await headerStart(), 'once finished');
  assert.is(shownStart(), job.history[0]!.started_at, 'and the runs table');
});

logs.run();
show.run();
