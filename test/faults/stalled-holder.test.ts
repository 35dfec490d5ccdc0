import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFINITE_FAILURES } from '../soak/history.ts';
import { queuectlAsync, type Result } from '../support/cli.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';

/** `queuectl enqueue --id ID -- true` with failpoints (synchronous sleeps stand for a SIGSTOP, a long GC pause, a slow disk). */
function enqueue(s: Sandbox, id: string, failpoints: string): Promise<Result> {
  return queuectlAsync(['enqueue', '--id', id, '--', 'true'], { cwd: s.dir, env: { E2E_SANDBOX: s.tag, QUEUECTL_FAILPOINTS: failpoints } });
}

/** Every acknowledged enqueue is in jobs.json; one refused with a status that promises nothing changed is not. */
function assertHonest(s: Sandbox, outcomes: Record<string, Result>): void {
  const ids = s.jobs().map((job) => job.id);
  const problems: string[] = [];
  for (const [id, result] of Object.entries(outcomes)) {
    if (result.status === 0 && !ids.includes(id)) problems.push(`enqueue ${id} was acknowledged (exit 0, printed "${result.stdout.trim()}"), but job ${id} is not in jobs.json: lost`);
    if ((DEFINITE_FAILURES as readonly number[]).includes(result.status ?? -1) && ids.includes(id)) {
      problems.push(`enqueue ${id} was refused (exit ${result.status}: ${result.stderr.trim()}), but job ${id} is in jobs.json`);
    }
  }
  assert.equal(problems, [], `${problems.join('\n')}\njobs.json holds: ${ids.join(', ')}`);
}

const stalled = suite('a lock holder stalled past the stale limit');

scenario(stalled, 'while its successor, stalled before its rename, holds its staged commit: every acknowledged job is in jobs.json and every refusal is true', async (s) => {
  s.ok('enqueue', '--id', 'base', '--', 'true');
  // A takes the lock and stalls inside it for 6.5 s, past the 5 s stale limit; B takes the lock
  // over, stages its commit and stalls 3 s before its rename. A wakes up while B is stalled, and
  // stages a commit of its own (then stalls 3 s before its rename too, where the fence stops it).
  const a = enqueue(s, 'a', 'in-lock=sleep:6500,before-rename=sleep:3000');
  await sleep(700);
  const b = enqueue(s, 'b', 'before-rename=sleep:3000');
  const outcomes = { a: await a, b: await b };
  if (process.env.E2E_VERBOSE) process.stderr.write(`${JSON.stringify(outcomes)}\n${s.jobs().map((job) => job.id).join(', ')}\n`);
  assertHonest(s, outcomes);
  assert.equal(s.jobs().map((job) => job.id).sort(), ['a', 'b', 'base'], `both enqueues succeed after retrying on the lost lock: ${JSON.stringify(outcomes)}`);
  assert.equal(s.jobs().map((job) => job.id).slice(0, 1), ['base']);
});

stalled.run();
