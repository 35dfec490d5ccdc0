import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';

const basic = suite('worker start: a job completes');

scenario(basic, 'runs an enqueued job to completion, keeps its output in its log and logs the completion', async (s) => {
  s.ok('enqueue', '--id', 'hello', '--', 'echo hi');
  const supervisor = await s.start(1);

  const job = await s.waitJob('hello', (j) => j.state === 'completed', 'to complete');
  assert.is(job.attempts, 1);
  assert.is(job.recoveries, 0);
  assert.is(job.last_error, null);
  assert.is(job.owner, null);
  assert.is(job.history.length, 1);
  assert.is(job.history[0]?.exit_code, 0);

  const log = fs.readFileSync(s.path('.queuectl', 'logs', 'hello.log'), 'utf8');
  assert.match(log, /^hi$/m);
  await supervisor.waitLog(/job hello completed/);
  assert.ok(supervisor.running, 'the supervisor keeps running after the queue is empty');
});

basic.run();
