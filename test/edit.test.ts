import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cycleThrough, editJob } from '../src/lifecycle/edit.ts';
import { QueueError } from '../src/lifecycle/error.ts';
import { at, job } from './support/factory.ts';

const edit = suite('editJob');

const run = { started_at: at(0).toISOString(), finished_at: at(1).toISOString(), duration_ms: 1000, outcome: 'failed' as const, exit_code: 1, signal: null, error: 'exit code 1', retry_at: at(3).toISOString() };

edit('applies the changes and moves updated_at; id, runs and history stay', () => {
  const waiting = job({ state: 'failed', attempts: 1, history: [run], last_error: 'exit code 1' });
  const edited = editJob(waiting, { command: 'make', priority: 3 }, at(10));
  assert.equal([edited.command, edited.priority, edited.updated_at], ['make', 3, at(10).toISOString()]);
  assert.equal([edited.id, edited.state, edited.attempts, edited.history, edited.created_at], [waiting.id, 'failed', 1, [run], waiting.created_at]);
});

edit('refuses a job that runs or has finished as a conflict, naming its state', () => {
  for (const state of ['processing', 'completed', 'dead', 'cancelled'] as const) {
    assert.throws(() => editJob(job({ state }), { priority: 1 }, at(1)), (error: unknown) => error instanceof QueueError && error.code === 'conflict' && error.message.includes(`is ${state}:`));
  }
});

edit('refuses max_retries that leaves a failed job no run to come', () => {
  const waiting = job({ state: 'failed', attempts: 2 });
  assert.throws(() => editJob(waiting, { max_retries: 2 }, at(1)), /has had 2 runs: .*at least 3/);
  assert.is(editJob(waiting, { max_retries: 3 }, at(1)).max_retries, 3);
});

edit.run();

// ---

const cycles = suite('cycleThrough');

cycles('finds a cycle that waiting for a job would close through waiting jobs', () => {
  const jobs = [job({ id: 'a' }), job({ id: 'b', after: ['a'] }), job({ id: 'c', after: ['b'] })];
  assert.equal(cycleThrough('a', ['c'], jobs), ['a', 'c', 'b', 'a']);
  assert.is(cycleThrough('c', ['a'], jobs), null);
});

cycles('ignores jobs that no longer wait (started or finished)', () => {
  const jobs = [job({ id: 'a' }), job({ id: 'b', after: ['a'], state: 'completed' })];
  assert.is(cycleThrough('a', ['b'], jobs), null);
});

cycles.run();
