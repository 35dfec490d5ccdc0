import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectlAsync } from '../support/cli.ts';
import { isAlive, procInfo } from '../support/supervisor-proc.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const stop = suite('worker stop');

scenario(stop, 'from another process, lets the running job finish, waits for every supervisor to exit and says what it did', async (s) => {
  const marker = s.path('started');
  s.enqueue({ id: 'long', command: `touch '${marker}'; sleep 2; echo finished` });
  const first = await s.start(1);
  const second = await s.start(1);
  await waitFor(() => fs.existsSync(marker), { what: 'the job to start' });

  const result = await queuectlAsync(['worker', 'stop'], { cwd: s.dir, env: s.env });
  assert.is(result.status, 0, result.stderr);
  const said = result.stdout.match(/stopped 2 supervisors \(pid (\d+), (\d+)\)/);
  assert.ok(said, `worker stop says what it stopped, got: ${JSON.stringify(result.stdout)}`);
  assert.equal([Number(said![1]), Number(said![2])].sort(), [first.pid, second.pid].sort());
  assert.not.ok(isAlive(first.pid) || isAlive(second.pid), 'worker stop returns once the supervisors have exited');

  for (const supervisor of [first, second]) {
    assert.equal(await supervisor.waitExit(2_000), { code: 0, signal: null });
    assert.is(s.registeredPhase(supervisor.pid), null, `${supervisor.pid} is no longer registered`);
  }
  const job = s.job('long');
  assert.is(job.state, 'completed', 'the running job finished');
  assert.is(job.attempts, 1);
  assert.is(job.recoveries, 0);
  assert.match(fs.readFileSync(s.path('.queuectl', 'logs', 'long.log'), 'utf8'), /^finished$/m);
});

scenario(stop, 'with no supervisor running, says so plainly and exits 0', async (s) => {
  const result = await queuectlAsync(['worker', 'stop'], { cwd: s.dir, env: s.env });
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /no supervisor is running/);
});

scenario(stop, 'never signals the process named by a stale PID file, and removes the file', async (s) => {
  s.ok('enqueue', '--', 'true');
  const supervisors = s.path('.queuectl', 'supervisors');
  fs.mkdirSync(supervisors, { recursive: true });
  const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  let missing = pidMax - 1;
  while (procInfo(missing) !== null) missing--;
  const unrelated = s.spawnOther('sleep', ['60']);
  const live = unrelated.pid!;
  await waitFor(() => isAlive(live), { what: 'sleep 60 to start' });
  const record = (pid: number, started: string) => ({ pid, started, host: os.hostname(), started_at: new Date().toISOString(), count: 1, cwd: s.home });
  fs.writeFileSync(s.pidFile(missing), JSON.stringify(record(missing, '12345')));
  // A live pid with the wrong start time: the pid was reused by an unrelated process.
  fs.writeFileSync(s.pidFile(live), JSON.stringify(record(live, '1')));

  assert.equal(s.json<{ supervisors: unknown[] }>('status', '--json').supervisors, [], 'status does not count stale PID files');
  const result = await queuectlAsync(['worker', 'stop'], { cwd: s.dir, env: s.env });
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /no supervisor is running/);
  assert.match(result.stderr, /removed 2 stale PID files/);
  assert.ok(isAlive(live) && unrelated.exitCode === null && unrelated.signalCode === null, 'the unrelated process was not signalled');
  assert.not.ok(fs.existsSync(s.pidFile(missing)), 'the PID file of a missing pid is removed');
  assert.not.ok(fs.existsSync(s.pidFile(live)), 'the PID file of a reused pid is removed');
}, { backends: ['file'] });

scenario(stop, 'says on stderr what it waits for, at most once a second, while a job finishes', async (s) => {
  const go = s.path('go');
  s.enqueue({ id: 'slow', command: `touch '${s.path('started')}'; while [ ! -e '${go}' ]; do sleep 0.05; done` });
  const supervisor = await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });

  const started = Date.now();
  const stopping = queuectlAsync(['worker', 'stop'], { cwd: s.dir, env: s.env });
  await supervisor.waitLog(/(SIGTERM|worker stop): draining/);
  // Let it wait long enough to speak twice, then let the job end.
  await waitFor(() => Date.now() - started >= 3_600, { timeout: 5_000, interval: 100 });
  fs.writeFileSync(go, '');
  const result = await stopping;
  const waited = Date.now() - started;
  assert.is(result.status, 0, result.stderr);
  const lines = result.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length >= 2, `at least two progress lines in ${waited} ms: ${JSON.stringify(result.stderr)}`);
  assert.ok(lines.length <= Math.ceil(waited / 1000), `at most one line a second: ${lines.length} lines in ${waited} ms`);
  // The last line may come while the supervisor, its job recorded, is exiting.
  for (const line of lines) assert.match(line, new RegExp(`^queuectl: waiting for supervisor ${supervisor.pid}: (1 running job|exiting)$`));
  assert.match(result.stdout, new RegExp(`stopped 1 supervisor \\(pid ${supervisor.pid}\\)`));
});

scenario(stop, 'does not force a supervisor that is already draining: its running job still finishes', async (s) => {
  const go = s.path('go');
  s.enqueue({ id: 'slow', command: `touch '${s.path('started')}'; while [ ! -e '${go}' ]; do sleep 0.05; done` });
  const supervisor = await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });
  process.kill(supervisor.pid, 'SIGTERM');
  await waitFor(() => s.registeredPhase(supervisor.pid) === 'draining', { what: 'the store to say draining' });

  const stopping = queuectlAsync(['worker', 'stop'], { cwd: s.dir, env: s.env });
  await waitFor(() => s.q('status').stdout.includes('draining'), { what: 'status to show the drain' });
  fs.writeFileSync(go, '');
  const result = await stopping;
  assert.is(result.status, 0, result.stderr);
  assert.not.match(supervisor.log, /forcing/);
  const job = s.job('slow');
  assert.is(job.state, 'completed', 'the job ran to its end');
  assert.equal(job.history.map((entry) => entry.outcome), ['completed']);
});

stop.run();
