import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const status = suite('status while a supervisor runs');

interface Status {
  counts: Record<string, number>;
  busy_workers: number;
  supervisors: { pid: number; host: string; phase: string; workers: number; running: { worker: number; job: string; command: string; run: number; runs: number }[] }[];
  waiting_for_recovery: { job: string; command: string; started_at: string | null; owner_pid: number | null; owner_host: string | null }[];
}

scenario(status, 'shows the supervisor and what each worker runs, as text and as JSON', async (s) => {
  const marker = s.path('started');
  s.enqueue({ id: 'busy-one', command: `touch '${marker}'; sleep 30` }, { id: 'later', command: 'true', delay: '1h' });
  const supervisor = await s.start(2);
  await waitFor(() => fs.existsSync(marker), { what: 'the job to start' });
  const worker = s.job('busy-one').owner?.worker;
  assert.ok(worker);

  const json = s.json<Status>('status', '--json');
  assert.is(json.counts.processing, 1);
  assert.is(json.counts.pending, 1);
  assert.is(json.busy_workers, 1);
  assert.is(json.supervisors.length, 1);
  const [entry] = json.supervisors;
  assert.is(entry?.pid, supervisor.pid);
  assert.is(entry?.host, os.hostname());
  assert.is(entry?.workers, 2);
  assert.is(entry?.phase, 'running');
  assert.equal(json.waiting_for_recovery, []);
  assert.equal(entry?.running.map(({ worker, job, command }) => ({ worker, job, command })), [{ worker, job: 'busy-one', command: `touch '${marker}'; sleep 30` }]);

  const text = s.ok('status');
  assert.match(text, new RegExp(`supervisor ${supervisor.pid} on ${os.hostname()}, 2 workers, 1 busy`));
  const row = text.split('\n').find((line) => /\bbusy-one\b/.test(line));
  assert.ok(row, `a row for the running job in:\n${text}`);
  assert.match(row!, new RegExp(`^\\s*${worker}\\s+busy-one\\s`), `the row names worker ${worker}: ${row}`);
  assert.match(row!, /sleep 30/);
  assert.match(row!, /\bbusy-one\s+1 of 3\s/, `the row says which of its runs the job is on: ${row}`);
  assert.equal(entry?.running.map(({ run, runs }) => [run, runs]), [[1, 3]]);
  assert.match(text, /processing\s+1/);
});

scenario(status, 'a supervisor that got SIGTERM shows as draining until it exits, as text and as JSON', async (s) => {
  const go = s.path('go');
  s.enqueue({ id: 'finishing', command: `touch '${s.path('started')}'; while [ ! -e '${go}' ]; do sleep 0.05; done` });
  const supervisor = await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });
  assert.not.match(s.ok('status'), /draining/);

  process.kill(supervisor.pid, 'SIGTERM');
  await supervisor.waitLog(/SIGTERM: draining/);
  const json = s.json<Status>('status', '--json');
  assert.equal(json.supervisors.map((entry) => [entry.pid, entry.phase]), [[supervisor.pid, 'draining']]);
  assert.is(json.busy_workers, 1);
  assert.match(s.ok('status'), new RegExp(`^supervisor ${supervisor.pid} on \\S+, 1 worker, 1 busy, up \\S+(?:, heartbeat [^,]+)?, draining \\(starts no new job; waits for its running jobs\\)$`, 'm'));

  fs.writeFileSync(go, '');
  assert.equal(await supervisor.waitExit(), { code: 0, signal: null });
  assert.is(s.job('finishing').state, 'completed');
  assert.equal(s.json<Status>('status', '--json').supervisors, []);
});

scenario(status, 'a processing job whose supervisor is gone shows as waiting for recovery until a supervisor runs', async (s) => {
  s.enqueue({ id: 'stranded', command: `touch '${s.path('started')}'; sleep 30` });
  const first = await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });
  first.signalGroup('SIGKILL');
  await first.waitExit();

  const json = s.json<Status>('status', '--json');
  assert.is(json.counts.processing, 1);
  assert.is(json.busy_workers, 0, 'no live worker runs it');
  assert.equal(json.supervisors, []);
  assert.equal(
    json.waiting_for_recovery.map(({ job, owner_pid, owner_host }) => ({ job, owner_pid, owner_host })),
    [{ job: 'stranded', owner_pid: first.pid, owner_host: os.hostname() }],
  );
  const text = s.ok('status');
  assert.match(text, /^1 processing job whose supervisor is gone, waiting for recovery: starts when a supervisor runs$/m);
  assert.match(text, new RegExp(`^stranded\\s+${first.pid} \\(gone\\)\\s+\\S+ ago\\s+touch`, 'm'));

  await s.start(1);
  await s.waitJob('stranded', (j) => j.history.length === 1, 'to be recovered');
  assert.equal(s.json<Status>('status', '--json').waiting_for_recovery, []);
  assert.not.match(s.ok('status'), /waiting for recovery/);
});

status.run();
