import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readHistory, tracedJob } from '../soak/history.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** What a crash, a full disk or a careless edit may leave in jobs.json, and what the log must say about it. */
const DAMAGE: [what: string, damage: (text: string) => string | Buffer, message: RegExp][] = [
  ['emptied (0 bytes)', () => '', /jobs\.json is empty/],
  ['truncated half-way', (text) => text.slice(0, Math.floor(text.length / 2)), /jobs\.json is not valid JSON \(line \d+, column \d+\)/],
  ['NUL-filled', (text) => Buffer.alloc(Buffer.byteLength(text)), /jobs\.json .*damaged/],
  ['of another schema version', () => `${JSON.stringify({ version: 2, jobs: [] }, null, 2)}\n`, /jobs\.json: unsupported version 2; this queuectl reads version 1/],
];

/** Replaces a file the way an editor or a crash-restore would: a new file renamed into place. */
function replace(file: string, content: string | Buffer): void {
  fs.writeFileSync(`${file}.edit`, content);
  fs.renameSync(`${file}.edit`, file);
}

const jobsFile = (s: Sandbox) => s.path('.queuectl', 'jobs.json');

// ---

const damaged = suite('jobs.json damaged under a running supervisor');

for (const [what, damage, message] of DAMAGE) {
  scenario(damaged, `${what}: the supervisor says what is wrong, never rewrites the file, keeps the running job's result, and records it once the file is restored`, async (s) => {
    const history = s.path('history.log');
    s.enqueue({ id: 'running', command: tracedJob('running', { history, locks: s.dir }, 'true', 1) }, { id: 'waiting', command: 'true', priority: -1 });
    const supervisor = await s.start(1);
    await waitFor(() => readHistory(history).runs.get('running')?.length === 1, { what: 'the job to start' });
    const good = fs.readFileSync(jobsFile(s), 'utf8');
    assert.is(JSON.parse(good).jobs[0].state, 'processing');

    const bad = damage(good);
    replace(jobsFile(s), bad);
    await waitFor(() => readHistory(history).runs.get('running')?.[0]?.end != null, { what: 'the job to finish' });
    await supervisor.waitLog(new RegExp(`cannot update the store \\(will keep trying\\): .*${message.source}`));
    // A few of the supervisor's one-second polls.
    await sleep(2_500);
    assert.equal(fs.readFileSync(jobsFile(s)), Buffer.from(bad), 'the damaged file is never replaced (by defaults or anything else)');
    assert.ok(supervisor.running, 'the supervisor keeps running');
    const enqueue = s.q('enqueue', '--id', 'new', '--', 'true');
    assert.is(enqueue.status, 2, 'other commands refuse the damaged file too');
    assert.match(enqueue.stderr, message);
    assert.equal(fs.readFileSync(jobsFile(s)), Buffer.from(bad));

    replace(jobsFile(s), good);
    const job = await s.waitJob('running', (j) => j.state === 'completed', 'to be recorded once the file is restored');
    assert.is(job.attempts, 1);
    assert.is(job.recoveries, 0);
    await s.waitJob('waiting', (j) => j.state === 'completed', 'to run after the restore');
    assert.is(readHistory(history).runs.get('running')?.length, 1, 'the job ran once');
    assert.equal(readHistory(history).overlaps, []);
    assert.ok(supervisor.running);
  });
}

damaged.run();
