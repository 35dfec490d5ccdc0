import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { readRuns, tracedCommand } from '../support/supervisor-runs.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** The one run of `id` in the trace, which must have ended. */
function onlyRun(trace: string, id: string): { start: number; end: number } {
  const runs = readRuns(trace).get(id) ?? [];
  assert.is(runs.length, 1, `${id} ran once`);
  const [run] = runs;
  assert.ok(run?.end !== null && run?.end !== undefined, `${id} ran to its end`);
  return { start: run!.start, end: run!.end! };
}

// ---

const dependencies = suite('dependencies across supervisors');

scenario(dependencies, 'a dependent starts only after its dependency completed, down a chain, with two supervisors', async (s) => {
  const trace = s.path('trace');
  await s.start(2);
  await s.start(2);
  s.ok('enqueue', '--id', 'build', '--', tracedCommand('build', trace, 0.6));
  s.ok('enqueue', '--id', 'lint', '--', tracedCommand('lint', trace, 0.2));
  s.ok('enqueue', '--id', 'test', '--after', 'build,lint', '--', tracedCommand('test', trace, 0.2));
  s.ok('enqueue', '--id', 'deploy', '--after', 'test', '--', tracedCommand('deploy', trace, 0.1));
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'every job to complete');

  const [build, lint, test, deploy] = ['build', 'lint', 'test', 'deploy'].map((id) => onlyRun(trace, id));
  assert.ok(test!.start >= build!.end, `test started ${(test!.start - build!.end).toFixed(3)} s after build ended`);
  assert.ok(test!.start >= lint!.end, 'test started after lint ended');
  assert.ok(deploy!.start >= test!.end, 'deploy started after test ended');
  const recorded = (id: string) => Date.parse(s.job(id).finished_at!);
  assert.ok(Date.parse(s.job('test').started_at!) >= recorded('build'), 'test was claimed after build was recorded completed');
});

scenario(dependencies, 'a dependent never runs after its dependency died; dlq retry of the dependency lets the chain go on', async (s) => {
  const trace = s.path('trace');
  const fixed = s.path('fixed');
  s.enqueue(
    { id: 'build', max_retries: 1, command: `test -e '${fixed}' || exit 1; ${tracedCommand('build', trace, 0.1)}` },
    { id: 'test', after: ['build'], command: tracedCommand('test', trace, 0.1) },
    { id: 'deploy', after: ['test'], command: tracedCommand('deploy', trace, 0.1) },
  );
  const supervisor = await s.start(2);

  const ended = await s.waitJob('deploy', (job) => job.state === 'cancelled', 'to be cancelled down the chain');
  assert.is(ended.last_error, 'not run: dependency "test" is cancelled');
  assert.is(s.job('build').state, 'dead');
  assert.is(s.job('test').state, 'cancelled');
  assert.is(s.job('test').last_error, 'not run: dependency "build" is dead');
  assert.equal(s.job('test').history, [], 'test never ran');
  assert.not.ok(readRuns(trace).has('test'), 'no run of test in the trace');
  await supervisor.waitLog(/job test will not run: dependency "build" is dead/);

  fs.writeFileSync(fixed, '');
  assert.is(s.ok('dlq', 'retry', 'build'), 'retrying build\nwaiting again: test\nwaiting again: deploy\n');
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'the chain to complete after the retry');
  const [build, test, deploy] = ['build', 'test', 'deploy'].map((id) => onlyRun(trace, id));
  assert.ok(test!.start >= build!.end && deploy!.start >= test!.end, 'the chain ran in order');
});

scenario(dependencies, 'enqueue --after a job that is already dead gives the job the same end as one enqueued a moment before it died', async (s) => {
  const fixed = s.path('fixed');
  s.enqueue(
    { id: 'build', max_retries: 1, command: `test -e '${fixed}' || exit 1` },
    { id: 'early', after: ['build'], command: 'true' },
  );
  const supervisor = await s.start(1);
  await s.waitJob('early', (job) => job.state === 'cancelled', 'to be cancelled when build dies');
  const late = s.q('enqueue', '--id', 'late', '--after', 'build', '--', 'true');
  assert.equal([late.status, late.stdout, late.stderr], [0, 'late\n', 'queuectl: job late is cancelled at once (not run: dependency "build" is dead)\n']);
  const [early, after] = [s.job('early'), s.job('late')];
  assert.equal([after.state, after.last_error, after.history], [early.state, early.last_error, early.history]);
  assert.is(after.last_error, 'not run: dependency "build" is dead');

  fs.writeFileSync(fixed, '');
  assert.is(s.ok('dlq', 'retry', 'build'), 'retrying build\nwaiting again: early\nwaiting again: late\n');
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'the retried chain to complete');
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitExit();
});

scenario(dependencies, 'enqueue --after a cancelled job already archived past keep-finished creates the job cancelled, naming it', async (s) => {
  s.ok('config', 'set', 'keep-finished', '0');
  s.ok('enqueue', '--id', 'old', '--', 'true');
  s.ok('enqueue', '--id', 'older', '--', 'true');
  s.ok('cancel', 'old', 'older');
  assert.equal(s.jobs().map((job) => job.id), [], 'both cancelled jobs left the live jobs for the archive');
  const made = s.q('enqueue', '--id', 'next', '--after', 'old', '--', 'true');
  assert.equal([made.status, made.stdout, made.stderr], [0, 'next\n', 'queuectl: job next is cancelled at once (not run: dependency "old" is cancelled)\n']);
  const shown = s.ok('show', 'next');
  assert.match(shown, /^state:\s+cancelled$/m);
  assert.match(shown, /^last error:\s+not run: dependency "old" is cancelled$/m);
});

scenario(dependencies, 'restart of a dead dependency revives its cancelled dependents that were archived past keep-finished, down the chain', async (s) => {
  const trace = s.path('trace');
  const fixed = s.path('fixed');
  s.ok('config', 'set', 'keep-finished', '0');
  s.enqueue(
    { id: 'build', max_retries: 1, command: `test -e '${fixed}' || exit 1; ${tracedCommand('build', trace, 0.1)}` },
    { id: 'test', after: ['build'], command: tracedCommand('test', trace, 0.1) },
    { id: 'deploy', after: ['test'], command: tracedCommand('deploy', trace, 0.1) },
  );
  await s.start(1);
  await s.waitJobs((jobs) => jobs.map((job) => job.id).join() === 'build' && jobs[0]?.state === 'dead', 'build to die and its ended dependents to leave the live jobs for the archive');
  const shown = (id: string) => /^state:\s+(\S+)$/m.exec(s.ok('show', id))?.[1];
  assert.equal([shown('test'), shown('deploy')], ['cancelled', 'cancelled'], 'show still finds them, archived');

  fs.writeFileSync(fixed, '');
  assert.is(s.ok('restart', 'build'), 'restarted build\nwaiting again: test\nwaiting again: deploy\n');
  const listed = () => s.json<{ id: string; state: string }[]>('list', '--json');
  await waitFor(() => ['build', 'test', 'deploy'].every((id) => listed().find((job) => job.id === id)?.state === 'completed'), { what: 'the whole chain to complete after the restart' });
  const [build, test, deploy] = ['build', 'test', 'deploy'].map((id) => onlyRun(trace, id));
  assert.ok(test!.start >= build!.end && deploy!.start >= test!.end, 'the chain ran in order');
  assert.equal(listed().map((job) => job.id).sort(), ['build', 'deploy', 'test'], 'each job once, live or archived');
});

dependencies.run();

// ---

const limits = suite('queue set --parallel');

/** A job that holds `lock` with flock while it runs: a second holder at once is an overlap the kernel reports. */
const exclusive = (s: Sandbox, id: string) =>
  `flock -n -E 99 '${s.path('gpu.lock')}' sh -c 'echo "start ${id} $$ $(date +%s.%N)" >> ${s.path('trace')}; sleep 0.3; echo "end ${id} $$ $(date +%s.%N)" >> ${s.path('trace')}'; c=$?; [ $c -ne 99 ] || echo "overlap ${id}" >> '${s.path('overlaps')}'; exit $c`;

scenario(limits, '--parallel 1 never runs two jobs of the queue at once across two supervisors, while other queues run beside it', async (s) => {
  s.ok('queue', 'set', 'gpu', '--parallel', '1');
  const gpu = Array.from({ length: 8 }, (_, i) => `gpu-${i}`);
  s.enqueue(...gpu.map((id) => ({ id, command: exclusive(s, id), queue: 'gpu', max_retries: 1 })));
  s.enqueue(...Array.from({ length: 4 }, (_, i) => ({ id: `cpu-${i}`, command: tracedCommand(`cpu-${i}`, s.path('trace'), 0.5) })));
  await s.start(3);
  await s.start(3);
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed' || job.state === 'dead'), 'every job to finish', 30_000);

  assert.not.ok(fs.existsSync(s.path('overlaps')), `flock saw overlapping runs: ${fs.existsSync(s.path('overlaps')) ? fs.readFileSync(s.path('overlaps'), 'utf8') : ''}`);
  assert.equal(s.jobs().filter((job) => job.state !== 'completed').map((job) => job.id), []);
  const runs = gpu.map((id) => onlyRun(s.path('trace'), id)).sort((a, b) => a.start - b.start);
  for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.start >= runs[i - 1]!.end, `gpu run ${i} started before run ${i - 1} ended`);
  const cpu = Array.from({ length: 4 }, (_, i) => onlyRun(s.path('trace'), `cpu-${i}`));
  assert.ok(cpu.some((run) => runs.some((other) => run.start < other.end && other.start < run.end)), 'the default queue ran beside the gpu queue');
});

limits.run();

// ---

const pause = suite('queue pause and resume');

scenario(pause, 'a pause holds new starts while the running job finishes, survives a supervisor restart, and resume releases them', async (s) => {
  const done = s.path('long-done');
  s.ok('enqueue', '--id', 'long', '--queue', 'gpu', '--', `sleep 1; touch '${done}'`);
  const first = await s.start(2);
  await s.waitJob('long', (job) => job.state === 'processing', 'to start');
  s.ok('queue', 'pause', 'gpu');
  s.ok('enqueue', '--id', 'held-1', '--queue', 'gpu', '--', 'true');
  s.ok('enqueue', '--id', 'held-2', '--queue', 'gpu', '--', 'true');
  await s.waitJob('long', (job) => job.state === 'completed', 'the running job to finish despite the pause');
  // A job of another queue enqueued after them completes: the supervisor has had its turns.
  s.ok('enqueue', '--id', 'probe-1', '--', 'true');
  await s.waitJob('probe-1', (job) => job.state === 'completed', 'to complete');
  assert.equal([s.job('held-1').state, s.job('held-2').state], ['pending', 'pending'], 'the paused queue started nothing new');
  assert.match(s.ok('queue', 'list'), /^gpu\s+2\s+0\s+1\s+0\s+-\s+paused$/m);

  first.signalGroup('SIGTERM');
  await first.waitExit();
  await s.start(2);
  s.ok('enqueue', '--id', 'probe-2', '--', 'true');
  await s.waitJob('probe-2', (job) => job.state === 'completed', 'to complete under the new supervisor');
  assert.equal([s.job('held-1').state, s.job('held-2').state], ['pending', 'pending'], 'the pause survived the restart');

  const resumed = Date.now();
  assert.is(s.ok('queue', 'resume', 'gpu'), 'resumed gpu\n');
  const jobs = await s.waitJobs((all) => ['held-1', 'held-2'].every((id) => all.find((job) => job.id === id)?.state === 'completed'), 'the held jobs to run after resume');
  for (const job of jobs.filter((entry) => entry.id.startsWith('held'))) assert.ok(Date.parse(job.started_at!) >= resumed - 5, `${job.id} started after the resume`);
});

scenario(pause, 'queue pause without a name holds every queue, one first used later included, until queue resume', async (s) => {
  const done = s.path('long-done');
  s.ok('enqueue', '--id', 'long', '--', `sleep 1; touch '${done}'`);
  await s.start(2);
  await s.waitJob('long', (job) => job.state === 'processing', 'to start');
  s.ok('queue', 'pause');
  s.ok('enqueue', '--id', 'held', '--', 'true');
  s.ok('enqueue', '--id', 'fresh', '--queue', 'later', '--', 'true');
  await s.waitJob('long', (job) => job.state === 'completed', 'the running job to finish despite the pause');
  assert.equal([s.job('held').state, s.job('fresh').state], ['pending', 'pending'], 'nothing new started, in any queue');
  assert.match(s.ok('queue', 'list'), /^later\s+1\s+0\s+0\s+0\s+-\s+paused$/m);
  const resumed = Date.now();
  assert.is(s.ok('queue', 'resume'), 'resumed every queue\n');
  const jobs = await s.waitJobs((all) => ['held', 'fresh'].every((id) => all.find((job) => job.id === id)?.state === 'completed'), 'the held jobs to run after resume');
  for (const job of jobs.filter((entry) => entry.id === 'held' || entry.id === 'fresh')) assert.ok(Date.parse(job.started_at!) >= resumed - 5, `${job.id} started after the resume`);
});

pause.run();

// ---

const cron = suite('schedules with two supervisors');

/** A fast clock for every process of the scenario: one minute per `secondsPerMinute` real seconds. */
const fastClock = (start: string, secondsPerMinute: number) => ({ QUEUECTL_TEST_CLOCK: `${Date.now()},${start},${60 / secondsPerMinute}` });

scenario(cron, 'a * * * * * schedule fires once per minute, however many supervisors run (time injected, 3 s per minute)', async (s) => {
  const env = { ...s.env, ...fastClock('2030-01-01T00:00:30Z', 3) };
  const lines = s.path('fired');
  const added = queuectl(['schedule', 'add', 'tick', '--cron', '* * * * *', '--', `echo "$QUEUECTL_JOB_ID" >> '${lines}'`], { cwd: s.dir, env });
  assert.is(added.status, 0, added.stderr);
  const first = await s.start(2, env);
  const second = await s.start(2, env);
  const jobs = await s.waitJobs((all) => all.filter((job) => job.state === 'completed').length >= 4, 'four firings to complete', 30_000);
  first.signalGroup('SIGTERM');
  second.signalGroup('SIGTERM');
  await Promise.all([first.waitExit(), second.waitExit()]);

  const ids = s.jobs().map((job) => job.id);
  const minutes = ids.map((id) => Number(/^tick@20300101T00(\d\d)00Z$/.exec(id)?.[1]));
  assert.ok(jobs.length >= 4);
  assert.equal(minutes, minutes.map((_, i) => i + 1), `one job per minute from 00:01, none missing or repeated: ${ids.join(' ')}`);
  assert.ok(s.jobs().every((job) => job.schedule === 'tick'));
  const ran = fs.readFileSync(lines, 'utf8').split('\n').filter(Boolean);
  assert.equal(ran, ids.slice(0, ran.length), 'each firing ran once, in order');
  const fired = [first, second].flatMap((sup) => [...sup.log.matchAll(/schedule tick fired: enqueued job (\S+)/g)].map((match) => match[1]));
  assert.equal([...fired].sort(), [...ids].sort(), 'each firing was enqueued by exactly one supervisor');
});

scenario(cron, 'firings missed while no supervisor ran give one catch-up run, not a burst', async (s) => {
  const added = queuectl(['schedule', 'add', 'tick', '--cron', '*/5 * * * *', '--', 'true'], { cwd: s.dir, env: { ...s.env, ...fastClock('2030-01-01T00:00:00Z', 60) } });
  assert.is(added.status, 0, added.stderr);
  // Five hours later: sixty firings were missed.
  const later = fastClock('2030-01-01T05:02:00Z', 60);
  await s.start(1, later);
  await s.waitJobs((jobs) => jobs.length > 0 && jobs.every((job) => job.state === 'completed'), 'the catch-up run');
  assert.equal(s.jobs().map((job) => job.id), ['tick@20300101T050000Z']);
  const [schedule] = JSON.parse(queuectl(['schedule', 'list', '--json'], { cwd: s.dir, env: { ...s.env, ...later } }).stdout) as { last_fired_at: string; next_at: string }[];
  assert.equal([schedule?.last_fired_at, schedule?.next_at], ['2030-01-01T05:00:00.000Z', '2030-01-01T05:05:00.000Z']);
});

cron.run();
