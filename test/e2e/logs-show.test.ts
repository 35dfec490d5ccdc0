import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration } from '../../src/duration.ts';
import type { Job } from '../../src/job.ts';
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
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: s.dir, env: cleanEnv({ E2E_SANDBOX: s.tag }), stdio: ['ignore', 'pipe', 'pipe'] });
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
  return `=== attempt ${index + 1} · started ${attempt.started_at} · exit code 3, took ${formatDuration(attempt.duration_ms)} ===`;
}

// ---

const logs = suite('logs');

scenario(logs, 'prints each attempt under a header with its start time, exit code and duration', async (s) => {
  const job = await failedTwice(s);
  const out = s.ok('logs', 'flaky');
  assert.is(out, `${header(job, 0)}\nrun 1\noops 1\n\n${header(job, 1)}\nrun 2\noops 2\n`);
});

scenario(logs, '--attempt 2 prints only the second attempt', async (s) => {
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
});

scenario(logs, 'output that does not end with a newline still gets its header with the exit code and duration', async (s) => {
  s.ok('enqueue', '--id', 'partial', '--max-retries', '1', '--', 'printf "no newline"; exit 3');
  await s.start(1);
  const job = await s.waitJob('partial', (j) => j.state === 'dead', 'to be dead');
  assert.is(s.ok('logs', 'partial'), `${header(job, 0)}\nno newline\n`);
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
  assert.equal(shown, s.job('flaky'));
  assert.is(s.q('show', 'nosuch', '--json').status, 3);
});

logs.run();
show.run();
