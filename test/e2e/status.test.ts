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
  supervisors: { pid: number; host: string; workers: number; running: { worker: number; job: string; command: string; run: number; runs: number }[] }[];
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

status.run();
