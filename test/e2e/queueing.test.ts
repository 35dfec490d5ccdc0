import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';

const queueing = suite('worker start: jobs queued at a worker');

scenario(queueing, 'claims nothing more for a worker busy with a long job after short ones, instead of handing jobs back and forth', async (s) => {
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

scenario(queueing, 'lets another worker take the jobs queued behind one that turns out long', async (s) => {
  for (const id of ['s1', 's2', 's3']) s.ok('enqueue', '--id', id, '--', 'true');
  const supervisor = await s.start(2);
  await s.waitJob('s3', (j) => j.state === 'completed', 'to complete');
  // Runs are now known to be short: jobs may queue behind a running one.
  s.ok('enqueue', '--id', 'long', '--', 'sleep 3');
  for (const id of ['x1', 'x2', 'x3', 'x4']) s.ok('enqueue', '--id', id, '--', 'true');
  for (const id of ['x1', 'x2', 'x3', 'x4']) await s.waitJob(id, (j) => j.state === 'completed', 'to complete', 2_500);
  assert.is(s.job('long').state, 'processing', 'the short jobs did not wait for the long one');
  assert.ok(supervisor.running);
});

queueing.run();
