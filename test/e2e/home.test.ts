import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { startSupervisor } from '../support/supervisor-proc.ts';
import { scenario } from '../support/supervisor-sandbox.ts';

const home = suite('worker start: the store it works on');

scenario(home, 'in a fresh directory creates the store and says so once, before it starts', async (s) => {
  const supervisor = await s.start(1);
  const notice = `queuectl: created a new queue in ${s.home}\n`;
  assert.ok(supervisor.log.startsWith(notice), `the first line names the new store:\n${supervisor.log}`);
  assert.is(supervisor.log.split(notice).length, 2, 'said once');
  assert.ok(fs.statSync(s.home).isDirectory());
  s.ok('enqueue', '--id', 'a', '--', 'true');
  await s.waitJob('a', (job) => job.state === 'completed', 'to complete');
}, { backends: ['file'] });

scenario(home, 'a new store is private: .gitignore 0600, supervisors/ 0700 and its PID files 0600', async (s) => {
  const mode = (...parts: string[]) => fs.statSync(path.join(s.home, ...parts)).mode & 0o777;
  const supervisor = await s.start(1);
  const pidFile = `${supervisor.pid}.json`;
  assert.equal([mode(), mode('.gitignore'), mode('supervisors'), mode('supervisors', pidFile)], [0o700, 0o600, 0o700, 0o600]);
  fs.chmodSync(path.join(s.home, '.gitignore'), 0o644);
  s.ok('enqueue', '--id', 'a', '--', 'true');
  await s.waitJob('a', (job) => job.state === 'completed', 'to complete');
  assert.is(mode('.gitignore'), 0o644, 'a mode widened by hand stays');
}, { backends: ['file'] });

scenario(home, 'from a subdirectory works on the store above: a hand-added job without cwd runs in the store\'s parent directory, an enqueued one where it was enqueued', async (s) => {
  fs.mkdirSync(s.home);
  fs.writeFileSync(path.join(s.home, 'jobs.json'), `${JSON.stringify({ version: 1, jobs: [{ id: 'by-hand', command: 'pwd > where.txt' }] }, null, 2)}\n`);
  const sub = s.path('src', 'lib');
  fs.mkdirSync(sub, { recursive: true });
  const supervisor = startSupervisor({ cwd: sub, count: 1, env: s.env });
  s.supervisors.push(supervisor);
  await supervisor.waitLog(new RegExp(`supervisor ${supervisor.pid} started with 1 worker on ${s.home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
  assert.not.match(supervisor.log, /created a new queue/);

  const enqueued = queuectl(['enqueue', '--id', 'from-sub', '--', 'pwd > where.txt'], { cwd: sub, env: s.env });
  assert.is(enqueued.status, 0, enqueued.stderr);
  assert.is(enqueued.stderr, '');
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'both jobs to complete');
  assert.is(fs.readFileSync(s.path('where.txt'), 'utf8').trim(), s.dir, 'the hand-added job ran in the store\'s parent directory');
  assert.is(fs.readFileSync(path.join(sub, 'where.txt'), 'utf8').trim(), sub);
  assert.not.ok(fs.existsSync(path.join(sub, '.queuectl')), 'no store made in the subdirectory');
  assert.ok(supervisor.running);
}, { backends: ['file'] });

home.run();
