import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { BIN, cleanEnv, readJobsFile } from '../support/cli.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const retention = suite('keep-finished: the archive');

scenario(retention, 'with keep-finished 5, 20 completed jobs leave at most 6 in jobs.json and the rest in archive.jsonl, and every command still finds them', async (s) => {
  s.ok('config', 'set', 'keep-finished', '5');
  const ids = Array.from({ length: 20 }, (_, index) => `job${String(index + 1).padStart(2, '0')}`);
  s.enqueue(...ids.map((id) => ({ id, command: `echo ran ${id}` })));
  await s.start(2);
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'every job left in jobs.json to complete');
  const status = s.json<{ counts: Record<string, number>; total: number }>('status', '--json');
  assert.is(status.counts.completed, 20, 'status counts archived jobs');
  assert.is(status.total, 20);

  const file = readJobsFile(s.dir) as unknown as { archived?: { completed: number }; jobs: Job[] };
  const live = file.jobs.map((job) => job.id);
  assert.ok(live.length <= 6, `jobs.json holds at most keep-finished + 10%, rounded up to 1: ${live.join(', ')}`);
  const archivedLines = fs.readFileSync(s.path('.queuectl', 'archive.jsonl'), 'utf8').split('\n').filter(Boolean);
  const archived = archivedLines.map((line) => (JSON.parse(line) as Job).id);
  assert.is(archived.length, 20 - live.length, 'one line per archived job');
  assert.equal([...archived, ...live].sort(), ids, 'every job is in exactly one of the two files');
  assert.is(file.archived?.completed, archived.length);

  const listed = s.json<Job[]>('list', '--state', 'completed', '--json');
  assert.equal(listed.map((job) => job.id).sort(), ids);
  const oldest = archived[0]!;
  const shown = s.json<Job>('show', oldest, '--json');
  assert.is(shown.id, oldest);
  assert.is(shown.state, 'completed');
  assert.match(s.ok('show', oldest), /^state:\s+completed$/m);
  assert.match(s.ok('logs', oldest), new RegExp(`^=== run 1 · attempt 1 · .* exit code 0, took .*===\\nran ${oldest}\\n$`));
  const waited = s.q('wait', oldest, live[0]!, '--timeout', '5s');
  assert.is(waited.status, 0, waited.stderr);
  assert.is(waited.stdout, '2 jobs completed\n');

  assert.is(s.ok('clean'), 'removed 20 finished jobs\n', 'clean removes archived jobs too');
  assert.is(fs.readFileSync(s.path('.queuectl', 'archive.jsonl'), 'utf8'), '');
  assert.is(s.json<{ counts: Record<string, number> }>('status', '--json').counts.completed, 0);
  assert.not.ok(fs.existsSync(s.path('.queuectl', 'logs', `${oldest}.log`)), 'and their logs');
}, { backends: ['file'] });

/** True once `pid` has an inotify descriptor: `wait` opens its watch after its first read of the queue. */
scenario(retention, 'wait without ids still names jobs cancelled meanwhile after they were archived, and exits 4', async (s) => {
  s.ok('config', 'set', 'keep-finished', '1');
  s.ok('enqueue', '--id', 'work', '--', `while [ ! -e '${s.path('go')}' ]; do sleep 0.05; done`);
  s.ok('enqueue', '--id', 'drop-1', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'drop-2', '--delay', '1h', '--', 'true');
  await s.start(1);
  await s.waitJob('work', (j) => j.state === 'processing', 'to run');

  let exit: number | null | undefined;
  let stdout = '';
  let stderr = '';
  const child = spawn(process.execPath, [BIN, 'wait'], { cwd: s.dir, env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.on('close', (code) => (exit = code));
  await waitFor(() => s.waitsForChanges(child.pid!), { what: 'wait to have read the queue once' });

  s.ok('cancel', 'drop-1', 'drop-2');
  fs.writeFileSync(s.path('go'), '');
  await s.waitJob('work', (j) => j.state === 'completed', 'to complete');
  // Three finished jobs with keep-finished 1: the two cancelled ones (the oldest) leave jobs.json.
  assert.equal(s.jobs().map((job) => job.id), ['work']);
  await waitFor(() => exit !== undefined, { what: 'wait to exit' });
  assert.is(exit, 4, `exit status; stdout: ${stdout}; stderr: ${stderr}`);
  assert.match(stderr, /job drop-1 is cancelled/);
  assert.match(stderr, /job drop-2 is cancelled/);
  assert.is(stdout, '1 of 3 jobs completed\n');
});

retention.run();
