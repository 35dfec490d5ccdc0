import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, jobsFile, readJobs, rejects, writeJobs, writeJobsText } from './support/fixture.ts';

// ---

const after = suite('enqueue --after');

after('records the dependencies, and list and show say what the job waits for', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'build', '--', 'make'], { cwd });
  accepts(['enqueue', '--id', 'lint', '--', 'make lint'], { cwd });
  accepts(['enqueue', '--id', 'test', '--after', 'build,lint', '--', 'make test'], { cwd });
  assert.equal(readJobs(cwd).find((entry) => entry.id === 'test')?.after, ['build', 'lint']);
  const row = accepts(['list'], { cwd }).stdout.split('\n').find((line) => line.startsWith('test '));
  assert.match(row ?? '', /waiting for build, lint/);
  const shown = accepts(['show', 'test'], { cwd }).stdout;
  assert.match(shown, /^after:\s+build \(pending\), lint \(pending\)$/m);
  assert.match(shown, /^waiting for:\s+build, lint$/m);
  const status = JSON.parse(accepts(['status', '--json'], { cwd }).stdout) as { waiting_for_dependencies: unknown };
  assert.equal(status.waiting_for_dependencies, [{ job: 'test', waiting_for: ['build', 'lint'] }]);
  const listed = JSON.parse(accepts(['list', '--json'], { cwd }).stdout) as Record<string, unknown>[];
  assert.equal(listed.find((entry) => entry.id === 'test')?.after, ['build', 'lint'], 'list --json shows the dependencies');
  assert.equal(listed.find((entry) => entry.id === 'build')?.after, [], 'and an empty list when there are none (the file leaves it out)');
  assert.not.ok('after' in readJobs(cwd).find((entry) => entry.id === 'build')!, 'the file leaves out fields at their defaults');
}));

after('refuses an unknown dependency, with nothing written', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'build', '--', 'make'], { cwd });
  rejects(['enqueue', '--id', 'test', '--after', 'build,nope', '--', 'make test'], { cwd }, { status: 2, message: /waits for "nope", but there is no job "nope"; enqueue it first/ });
}));

after('refuses a cycle within one --file batch, and a job waiting for itself, with nothing written', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'base', '--', 'true'], { cwd });
  const file = path.join(cwd, 'jobs.jsonl');
  fs.writeFileSync(file, ['{"id":"a","command":"true","after":["c","base"]}', '{"id":"b","command":"true","after":["a"]}', '{"id":"c","command":"true","after":["b"]}'].join('\n'));
  rejects(['enqueue', '--file', file], { cwd }, { status: 2, message: /wait for each other in a cycle: a → c → b → a/ });
  rejects(['enqueue', '--id', 'self', '--after', 'self', '--', 'true'], { cwd }, { status: 2, message: /cannot wait for itself/ });
}));

after('accepts a dependency that is dead or cancelled: the new job is cancelled at once, naming it, and says so on stderr', inTemp((cwd) => {
  writeJobs(cwd, [deadJob('build'), job({ id: 'lint', state: 'cancelled' })]);
  const result = queuectl(['enqueue', '--id', 'test', '--after', 'build', '--', 'make test'], { cwd });
  assert.equal([result.status, result.stdout, result.stderr], [0, 'test\n', 'queuectl: job test is cancelled at once (not run: dependency "build" is dead)\n']);
  const test = readJobs(cwd).find((entry) => entry.id === 'test');
  assert.equal([test?.state, test?.last_error, test?.after], ['cancelled', 'not run: dependency "build" is dead', ['build']]);
  const file = path.join(cwd, 'jobs.jsonl');
  fs.writeFileSync(file, ['{"id":"deploy","command":"true","after":["docs"]}', '{"id":"docs","command":"true","after":["lint"]}', '{"id":"free","command":"true"}'].join('\n'));
  const batch = queuectl(['enqueue', '--file', file, '--json'], { cwd });
  assert.is(batch.status, 0, batch.stderr);
  const made = JSON.parse(batch.stdout) as { id: string; state: string; last_error: string | null }[];
  assert.equal(made.map((entry) => [entry.id, entry.state, entry.last_error]), [
    ['deploy', 'cancelled', 'not run: dependency "docs" is cancelled'],
    ['docs', 'cancelled', 'not run: dependency "lint" is cancelled'],
    ['free', 'pending', null],
  ]);
  assert.is(batch.stderr, 'queuectl: job docs is cancelled at once (not run: dependency "lint" is cancelled)\nqueuectl: job deploy is cancelled at once (not run: dependency "docs" is cancelled)\n');
  assert.is(accepts(['dlq', 'retry', 'build'], { cwd }).stdout, 'retrying build\nwaiting again: test\n', 'a retry of the dependency puts it back to waiting, as for one ended later');
}));

after('restart of a dependency that ended its dependents puts them back to waiting', inTemp((cwd) => {
  writeJobs(cwd, [deadJob('build'), job({ id: 'test', state: 'cancelled', after: ['build'], last_error: 'not run: dependency "build" is dead' })]);
  assert.is(accepts(['dlq', 'retry', 'build'], { cwd }).stdout, 'retrying build\nwaiting again: test\n');
  const test = readJobs(cwd).find((entry) => entry.id === 'test');
  assert.equal([test?.state, test?.last_error], ['pending', null]);
}));

after.run();

// ---

const queues = suite('queue set, pause, resume, list');

queues('enqueue --queue, queue set and pause show in queue list, and the file keeps them as plain JSON', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'a', '--', 'true'], { cwd });
  assert.is(queuectl(['enqueue', '--id', 'g', '--queue', 'gpu', '--', 'train'], { cwd }).stderr, 'queuectl: new queue gpu\n');
  assert.is(accepts(['queue', 'set', 'gpu', '--parallel', '1'], { cwd }).stdout, 'queue gpu: at most 1 job at once\n');
  assert.is(accepts(['queue', 'pause', 'gpu'], { cwd }).stdout, 'paused gpu\n');
  assert.is(accepts(['queue', 'pause', 'gpu'], { cwd }).stdout, 'gpu was already paused\n');
  assert.is(
    accepts(['queue', 'list'], { cwd }).stdout,
    'QUEUE    WAITING  RUNNING  COMPLETED  DEAD  LIMIT  STATE\ndefault  1        0        0          0     -      active\ngpu      1        0        0          0     1      paused\n',
  );
  const file = JSON.parse(fs.readFileSync(jobsFile(cwd), 'utf8')) as { queues: unknown };
  assert.equal(file.queues, { gpu: { parallel: 1, paused: true } });
  const listed = JSON.parse(accepts(['list', '--json'], { cwd }).stdout) as { id: string; queue?: string }[];
  assert.equal(listed.map((entry) => [entry.id, entry.queue]), [['a', 'default'], ['g', 'gpu']]);
  const status = JSON.parse(accepts(['status', '--json'], { cwd }).stdout) as { queues: unknown };
  assert.equal(status.queues, [{ name: 'default', waiting: 1, running: 0, parallel: null, paused: false }, { name: 'gpu', waiting: 1, running: 0, parallel: 1, paused: true }]);
  assert.match(accepts(['status'], { cwd }).stdout, /^queues: default 0 running, 1 waiting; gpu 0 running, 1 waiting, at most 1, paused$/m);
  accepts(['queue', 'set', 'gpu', '--parallel', 'off'], { cwd });
  assert.is(accepts(['queue', 'resume'], { cwd }).stdout, 'resumed gpu\n');
  assert.not.ok('queues' in (JSON.parse(fs.readFileSync(jobsFile(cwd), 'utf8')) as object), 'no settings left: no queues key');
}));

queues('queue pause without a name pauses every queue, those made later too, until queue resume', inTemp((cwd) => {
  accepts(['enqueue', '--id', 'a', '--', 'true'], { cwd });
  assert.is(accepts(['queue', 'pause'], { cwd }).stdout, 'paused every queue, and any queue first used later, until queuectl queue resume\n');
  assert.equal((JSON.parse(fs.readFileSync(jobsFile(cwd), 'utf8')) as { queues: unknown }).queues, { '*': { parallel: null, paused: true } });
  assert.is(accepts(['queue', 'pause'], { cwd }).stdout, 'every queue was already paused\n');
  queuectl(['enqueue', '--id', 'g', '--queue', 'gpu', '--', 'true'], { cwd });
  assert.is(
    accepts(['queue', 'list'], { cwd }).stdout,
    'QUEUE    WAITING  RUNNING  COMPLETED  DEAD  LIMIT  STATE\ndefault  1        0        0          0     -      paused\ngpu      1        0        0          0     -      paused\n'
      + 'every queue is paused, those first used later included (queuectl queue resume lifts it)\n',
  );
  assert.match(accepts(['status'], { cwd }).stdout, /^queues: default 0 running, 1 waiting, paused; gpu 0 running, 1 waiting, paused$/m);
  const status = JSON.parse(accepts(['status', '--json'], { cwd }).stdout) as { queues: { paused: boolean }[] };
  assert.equal(status.queues.map((queue) => queue.paused), [true, true]);
  const one = queuectl(['queue', 'resume', 'gpu'], { cwd });
  assert.is(one.stdout, 'gpu was already active\n');
  assert.match(one.stderr, /every queue is still paused/);
  accepts(['queue', 'pause', 'gpu'], { cwd });
  assert.is(accepts(['queue', 'resume'], { cwd }).stdout, 'resumed every queue\nresumed gpu\n');
  assert.not.ok('queues' in (JSON.parse(fs.readFileSync(jobsFile(cwd), 'utf8')) as object), 'resume leaves no settings');
  assert.is(accepts(['queue', 'resume'], { cwd }).stdout, 'every queue was already active\n');
}));

queues('pause and resume refuse a queue that does not exist, with the close names', inTemp((cwd) => {
  accepts(['enqueue', '--', 'true'], { cwd });
  accepts(['queue', 'set', 'gpu', '--parallel', '2'], { cwd });
  rejects(['queue', 'pause', 'defualt'], { cwd }, { status: 3, message: /^queuectl: no queue named "defualt"; did you mean default\? \(queuectl queue list shows them\)\n$/ });
  rejects(['queue', 'resume', 'gpu', 'nosuchq'], { cwd }, { status: 3, message: /no queue named "nosuchq"; the queues are default, gpu/ });
  rejects(['queue', 'pause', 'gpuu'], { cwd }, { status: 3, message: /did you mean gpu\?/ });
  assert.is(accepts(['queue', 'set', 'cpu', '--parallel', '1'], { cwd }).stdout, 'queue cpu: at most 1 job at once\n', 'queue set still makes a queue');
  assert.is(queuectl(['enqueue', '--queue', 'gpu', '--', 'true'], { cwd }).stderr, '', 'a queue with a setting is not new');
}));

queues('an old jobs.json stays byte for byte the same after settings come and go', inTemp((cwd) => {
  const old = `{\n  "version": 1,\n  "jobs": [\n    {\n      "id": "a",\n      "command": "true",\n      "state": "pending"\n    }\n  ]\n}\n`;
  writeJobsText(cwd, old);
  accepts(['queue', 'pause', 'default'], { cwd });
  accepts(['queue', 'resume', 'default'], { cwd });
  const rewritten = fs.readFileSync(jobsFile(cwd), 'utf8');
  assert.not.match(rewritten, /"queue"|"after"|"schedule"/, 'the workflow fields at their defaults are not written');
  const before = rewritten;
  accepts(['queue', 'pause'], { cwd });
  accepts(['queue', 'resume'], { cwd });
  assert.is(fs.readFileSync(jobsFile(cwd), 'utf8'), before);
}));

queues('bad settings are refused with nothing written', inTemp((cwd) => {
  accepts(['enqueue', '--', 'true'], { cwd });
  rejects(['queue', 'set', 'gpu', '--parallel', 'two'], { cwd }, { status: 2, message: /--parallel takes a whole number/ });
  rejects(['queue', 'set', 'gpu'], { cwd }, { status: 2, message: /queue set gpu --parallel 1/ });
  rejects(['queue', 'pause', 'no way'], { cwd }, { status: 2, message: /invalid queue name "no way"/ });
  rejects(['enqueue', '--queue', 'bad/name', '--', 'true'], { cwd }, { status: 2, message: /invalid queue name/ });
}));

queues('a hand-edited queue setting is validated, naming the queue and the field', inTemp((cwd) => {
  writeJobsText(cwd, '{"version": 1, "queues": {"gpu": {"parallel": "one"}}, "jobs": []}\n');
  const result = queuectl(['queue', 'list'], { cwd });
  assert.is(result.status, 2);
  assert.match(result.stderr, /jobs\.json: queues: "gpu": field "parallel": expected a whole number from 1/);
}));

queues.run();

// ---

const schedules = suite('schedule add, list, remove');

schedules('adds a schedule that shows its next firing, and removes it', inTemp((cwd) => {
  const env = { QUEUECTL_TEST_CLOCK: `${Date.now()},2030-01-01T10:00:00Z,1` };
  const added = accepts(['schedule', 'add', 'nightly', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--queue', 'backup', '--', './backup.sh'], { cwd, env }).stdout;
  assert.match(added, /^schedule nightly added; first firing at 2030-01-02T02:00:00.000Z \(in 16h\)\n$/);
  const listed = accepts(['schedule', 'list'], { cwd, env }).stdout.split('\n');
  assert.match(listed[1] ?? '', /^nightly\s+0 3 \* \* \*\s+Europe\/Berlin\s+2030-01-02T02:00:00.000Z \(in 16h\)\s+-\s+\.\/backup\.sh$/);
  const [schedule] = JSON.parse(accepts(['schedule', 'list', '--json'], { cwd }).stdout) as { job: { queue: string; command: string; cwd: string } }[];
  assert.equal([schedule?.job.queue, schedule?.job.command, schedule?.job.cwd], ['backup', './backup.sh', cwd]);
  rejects(['schedule', 'add', 'nightly', '--cron', '* * * * *', '--', 'true'], { cwd }, { status: 4, message: /a schedule named "nightly" already exists; remove it first/ });
  assert.is(accepts(['schedule', 'remove', 'nightly'], { cwd }).stdout, 'removed schedule nightly\n');
  assert.is(accepts(['schedule', 'list'], { cwd }).stdout, 'no schedules (add one with: queuectl schedule add NAME --cron EXPR -- CMD)\n');
}));

schedules('bad expressions, zones, names and missing parts are refused with nothing written', inTemp((cwd) => {
  accepts(['enqueue', '--', 'true'], { cwd });
  rejects(['schedule', 'add', 'x', '--cron', '0 3 * *', '--', 'true'], { cwd }, { status: 2, message: /invalid cron expression "0 3 \* \*".*for example "\*\/5 \* \* \* \*"/ });
  rejects(['schedule', 'add', 'x', '--cron', '61 * * * *', '--', 'true'], { cwd }, { status: 2, message: /invalid cron expression/ });
  rejects(['schedule', 'add', 'x', '--cron', '0 0 31 2 *', '--', 'true'], { cwd }, { status: 2, message: /never matches/ });
  rejects(['schedule', 'add', 'x', '--cron', '* * * * *', '--tz', 'Mars/Base', '--', 'true'], { cwd }, { status: 2, message: /unknown time zone "Mars\/Base"/ });
  rejects(['schedule', 'add', 'x', '--', 'true'], { cwd }, { status: 2, message: /give the times with --cron/ });
  rejects(['schedule', 'add', 'x', '--cron', '* * * * *', 'true'], { cwd }, { status: 2, message: /put the command after --/ });
  rejects(['schedule', 'add', 'a b', '--cron', '* * * * *', '--', 'true'], { cwd }, { status: 2, message: /invalid schedule name/ });
  rejects(['schedule', 'remove', 'nope'], { cwd }, { status: 3, message: /no schedule named "nope"; there are none/ });
}));

schedules.run();
