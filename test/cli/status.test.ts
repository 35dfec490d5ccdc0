import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { STATES } from '../../src/lifecycle/job.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, tree, writeJobs } from './support/fixture.ts';

function seed(cwd: string): void {
  writeJobs(cwd, [
    job({ id: 'p1', cwd }),
    job({ id: 'p2', cwd }),
    job({ id: 'c1', state: 'completed', attempts: 1, cwd }),
    job({ id: 'f1', state: 'failed', attempts: 1, last_error: 'exit code 1', cwd }),
    deadJob('d1', 60_000, { cwd }),
    job({ id: 'x1', state: 'cancelled', cwd }),
  ]);
}

// ---

const json = suite('status --json');

json('is one JSON document with a count for every state and no supervisors', inTemp((cwd) => {
  seed(cwd);
  const { stdout } = accepts(['status', '--json'], { cwd });
  const status = JSON.parse(stdout);
  assert.equal(status.counts, { pending: 2, processing: 0, completed: 1, failed: 1, dead: 1, cancelled: 1 });
  assert.equal(Object.keys(status.counts), [...STATES]);
  assert.is(status.total, 6);
  assert.equal(status.supervisors, []);
  assert.is(status.busy_workers, 0);
}));

json('counts zero for every state in a directory without a store, and creates none', inTemp((cwd) => {
  const status = JSON.parse(accepts(['status', '--json'], { cwd }).stdout);
  assert.equal(status.counts, Object.fromEntries(STATES.map((state) => [state, 0])));
  assert.is(status.total, 0);
  assert.equal(status.supervisors, []);
  assert.equal(tree(cwd), { files: {}, dirs: [] });
}));

json.run();

// ---

const text = suite('status');

text('shows the count per state as a table and says no supervisor runs', inTemp((cwd) => {
  seed(cwd);
  const { stdout } = accepts(['status'], { cwd });
  const lines = stdout.split('\n');
  assert.match(lines[0] ?? '', /^STATE\s+JOBS$/);
  const counts = Object.fromEntries(lines.slice(1, 1 + STATES.length).map((line) => line.split(/\s+/)));
  assert.equal(counts, { pending: '2', processing: '0', completed: '1', failed: '1', dead: '1', cancelled: '1' });
  assert.match(stdout, /^total: 6\b/m);
  assert.match(stdout, /no supervisor is running \(start one with: queuectl worker start\)/);
}));

text('says when the next job is due', inTemp((cwd) => {
  accepts(['enqueue', '--delay', '1h', '--', 'true'], { cwd });
  assert.match(accepts(['status'], { cwd }).stdout, /^total: 1, next job due in 1h$/m);
}));

text.run();
