import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRuns, tracedCommand } from '../support/supervisor-runs.ts';
import { scenario } from '../support/supervisor-sandbox.ts';

const queueing = suite('worker start: jobs claimed ahead wait at the supervisor for a free worker');

scenario(queueing, 'claims nothing more while its only worker is busy with a long job after short ones, instead of handing jobs back and forth', async (s) => {
  s.ok('enqueue', '--id', 'short', '--', 'true');
  s.ok('enqueue', '--id', 'long', '--', 'sleep 1.5');
  for (const id of ['a', 'b', 'c']) s.ok('enqueue', '--id', id, '--', 'true');
  const supervisor = await s.start(1);
  for (const id of ['a', 'b', 'c']) await s.waitJob(id, (j) => j.state === 'completed', 'to complete', 15_000);
  const lines = supervisor.log.trim().split('\n');
  assert.not.match(supervisor.log, /handed back/);
  // One start line, a few job lines each, one stop line: a loop of claims would write hundreds.
  assert.ok(lines.length < 20, `the supervisor wrote ${lines.length} lines:\n${supervisor.log}`);
  const long = s.job('long');
  const a = s.job('a');
  assert.ok(Date.parse(a.started_at ?? '') >= Date.parse(long.finished_at ?? ''), 'the short job waited for the only worker');
});

scenario(queueing, 'lets another worker take the jobs claimed after one that turns out long', async (s) => {
  for (const id of ['s1', 's2', 's3']) s.ok('enqueue', '--id', id, '--', 'true');
  const supervisor = await s.start(2);
  await s.waitJob('s3', (j) => j.state === 'completed', 'to complete');
  // Runs are now known to be short: jobs are claimed ahead, to wait for a free worker.
  s.enqueue({ id: 'long', command: 'sleep 10' }, ...['x1', 'x2', 'x3', 'x4'].map((id) => ({ id, command: 'true' })));
  for (const id of ['x1', 'x2', 'x3', 'x4']) await s.waitJob(id, (j) => j.state === 'completed', 'to complete', 8_000);
  assert.is(s.job('long').state, 'processing', 'the short jobs did not wait for the long one');
  assert.ok(supervisor.running);
});

scenario(queueing, 'a job waiting at a supervisor whose every worker is busy with a long run is handed back and started by another supervisor\'s free worker', async (s) => {
  const trace = s.path('starts');
  const busy = await s.start(1);
  s.enqueue(...['s1', 's2', 's3'].map((id) => ({ id, command: 'true' })));
  await s.waitJob('s3', (j) => j.state === 'completed', 'to complete');
  // The only supervisor so far claims the long job and, runs being short so far, the others too.
  s.enqueue({ id: 'long', command: tracedCommand('long', trace, 10) }, ...['x1', 'x2', 'x3'].map((id) => ({ id, command: tracedCommand(id, trace, 0) })));
  await s.waitJob('long', (j) => j.state === 'processing' && j.owner?.worker === 1, 'to start');
  const free = await s.start(1);
  for (const id of ['x1', 'x2', 'x3']) await s.waitJob(id, (j) => j.state === 'completed', 'to complete', 8_000);
  assert.is(s.job('long').state, 'processing', 'the short jobs did not wait for the long one');
  const runs = readRuns(trace);
  const starts = ['x1', 'x2', 'x3'].map((id) => runs.get(id)?.[0]?.start ?? Infinity);
  assert.equal([...starts].sort((a, b) => a - b), starts, 'they started in creation order');
  assert.ok([busy, free].every((one) => one.running));
});

queueing.run();
