import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serializeArchive } from '../../src/store/file/archive.ts';
import { serializeJobs } from '../../src/lifecycle/jobfile/encode.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, readJobs, rejects, tree, writeJobsText } from './support/fixture.ts';

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** A completed, a cancelled, a dead and a pending job in jobs.json, and one completed job archived. */
function seed(cwd: string): void {
  const finished = (id: string, state: 'completed' | 'cancelled', when: number) => job({ id, state, attempts: state === 'completed' ? 1 : 0, cwd, finished_at: ago(when), updated_at: ago(when) });
  writeJobsText(cwd, serializeJobs({ version: 1, archived: { completed: 1, cancelled: 0 }, jobs: [finished('c1', 'completed', 2 * DAY), finished('x1', 'cancelled', 60_000), deadJob('d1', 2 * DAY, { cwd }), job({ id: 'p1', cwd })] }));
  fs.writeFileSync(path.join(cwd, '.queuectl', 'archive.jsonl'), serializeArchive([finished('old', 'completed', 9 * DAY)]));
  fs.mkdirSync(path.join(cwd, '.queuectl', 'logs'));
  for (const id of ['c1', 'x1', 'd1', 'old']) fs.writeFileSync(path.join(cwd, '.queuectl', 'logs', `${id}.log`), `output of ${id}\n`);
}

const ids = (cwd: string) => readJobs(cwd).map((entry) => entry.id);

// ---

const keep = suite('clean keeps dead jobs unless asked');

keep('removes completed and cancelled jobs, archived ones included, and keeps the dead one', inTemp((cwd) => {
  seed(cwd);
  assert.is(accepts(['clean'], { cwd }).stdout, 'removed 3 finished jobs; 1 dead job kept (delete with: queuectl clean --state dead)\n');
  assert.equal(ids(cwd), ['d1', 'p1']);
  assert.ok(fs.existsSync(path.join(cwd, '.queuectl', 'logs', 'd1.log')), 'the dead job keeps its log');
  assert.not.ok(fs.existsSync(path.join(cwd, '.queuectl', 'logs', 'old.log')));
  assert.is(JSON.parse(accepts(['dlq', 'list', '--json'], { cwd }).stdout)[0].id, 'd1');
}));

keep('--state dead removes dead jobs, and only them', inTemp((cwd) => {
  seed(cwd);
  assert.is(accepts(['clean', '--state', 'dead'], { cwd }).stdout, 'removed 1 finished job\n');
  assert.equal(ids(cwd), ['c1', 'x1', 'p1']);
  assert.not.ok(fs.existsSync(path.join(cwd, '.queuectl', 'logs', 'd1.log')));
}));

keep('refuses a state that is not finished', inTemp((cwd) => {
  seed(cwd);
  rejects(['clean', '--state', 'pending'], { cwd }, { status: 2, message: /--state must be a finished state: completed, cancelled, dead/ });
}));

keep.run();

// ---

const dry = suite('clean --dry-run');

dry('lists what would go, archived jobs included, and changes no file', inTemp((cwd) => {
  seed(cwd);
  const before = tree(cwd);
  const out = accepts(['clean', '--dry-run'], { cwd }).stdout;
  assert.equal(tree(cwd), before, 'nothing changed');
  const lines = out.trimEnd().split('\n');
  assert.is(lines[0], 'would remove 3 finished jobs; 1 dead job kept (delete with: queuectl clean --state dead):');
  assert.match(lines[1] ?? '', /^ID\s+STATE\s+RUNS/);
  assert.equal(lines.slice(2).map((line) => line.split(/\s+/).slice(0, 2).join(' ')), ['old completed', 'c1 completed', 'x1 cancelled']);
}));

dry('follows --older-than and --state, and says when nothing would go', inTemp((cwd) => {
  seed(cwd);
  const before = tree(cwd);
  const older = accepts(['clean', '--dry-run', '--older-than', '1d'], { cwd }).stdout.trimEnd().split('\n');
  assert.equal(older.slice(2).map((line) => line.split(/\s+/)[0]), ['old', 'c1']);
  const dead = accepts(['clean', '--dry-run', '--state', 'dead'], { cwd }).stdout.trimEnd().split('\n');
  assert.is(dead[0], 'would remove 1 finished job:');
  assert.match(dead[2] ?? '', /^d1\s+dead\s+3\/3/);
  assert.is(accepts(['clean', '--dry-run', '--older-than', '30d'], { cwd }).stdout, 'would remove 0 finished jobs\n');
  assert.equal(tree(cwd), before, 'nothing changed');
}));

dry('on a directory without a store, creates none', inTemp((cwd) => {
  assert.is(accepts(['clean', '--dry-run'], { cwd }).stdout, 'would remove 0 finished jobs\n');
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

dry.run();
