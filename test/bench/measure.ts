/**
 * The measurements. Each one runs in fresh temporary directories and measures queuectl side
 * by side with its baseline, so a noisy machine shifts both figures alike and the ratio holds.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BatchWatch, type Progress } from './progress.ts';
import { bareDrain, idleNodeRssKb, now, queuectl, rssTreeKb, RssSampler, sleep, Supervisor, temporary, timeNode } from './procs.ts';
import { mean, median, percentile } from './stats.ts';
import { copyStore } from './store.ts';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** A fresh project directory; its store is `.queuectl/` inside, chosen by cwd as a user would. */
function project(name: string): { dir: string; home: string; cleanup: () => void } {
  const { dir, remove } = temporary(`queuectl-bench-${name}-`);
  return { dir, home: path.join(dir, '.queuectl'), cleanup: remove };
}

const pad = (i: number) => String(i).padStart(6, '0');

function jsonLines(prefix: string, total: number, command: string): string {
  return Array.from({ length: total }, (_, i) => `${JSON.stringify({ id: `${prefix}-${pad(i)}`, command })}\n`).join('');
}

/** Resolves on the next change in `dir` or after `ms`, whichever comes first. */
function changeOrTimeout(watcher: fs.FSWatcher, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      watcher.off('change', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    watcher.on('change', done);
  });
}

export interface DrainResult {
  jobs: number;
  finished: number;
  /** Jobs of the batch that reached a finished state within the budget. */
  done: number;
  ms: number;
  timedOut: boolean;
  jobsPerSec: number;
  /** The plain loop: output ignored, one process group. */
  bareJobsPerSec: number;
  bareMs: number[];
  /** The loop with queuectl's isolation: own process group, output appended to a log file. */
  isolatedJobsPerSec: number;
  isolatedMs: number[];
  peakRssKb: number;
  peakPrimaryKb: number;
  peakChildren: number;
  rssSamples: number;
  /** jobs.json once the supervisor has stopped. */
  sizeAfter: number;
  last: Progress;
  supervisorPid: number;
  supervisorLog: string;
}

export interface DrainOptions {
  jobs: number;
  /** Completed jobs already in the store. */
  finished: number;
  count: number;
  budgetMs: number;
  nodeArgs?: string[];
  /** How long the supervisor may take to stop gracefully (a CPU profile is written only then). */
  stopGraceMs?: number;
}

/**
 * `worker start --count N` draining `jobs` × `true`, from its spawn until jobs.json shows every
 * job finished (or the budget runs out), bracketed by two bare runs of the same commands.
 */
export async function drain(options: DrainOptions): Promise<DrainResult> {
  const { dir, home, cleanup } = project(`drain-${options.finished}`);
  let supervisor: Supervisor | null = null;
  let sampler: RssSampler | null = null;
  let watcher: fs.FSWatcher | null = null;
  try {
    if (options.finished > 0) copyStore(home, options.finished);
    fs.writeFileSync(path.join(dir, 'jobs.jsonl'), jsonLines('drain', options.jobs, 'true'));
    queuectl(['enqueue', '--file', 'jobs.jsonl'], dir);
    const bareMs = [await bareDrain(options.jobs, options.count, 'true', dir)];
    const isolatedMs = [await bareDrain(options.jobs, options.count, 'true', dir, 'isolated')];

    const batch = new BatchWatch(path.join(home, 'jobs.json'), `drain-${pad(0)}`);
    watcher = fs.watch(home);
    supervisor = new Supervisor(dir, options.count, options.nodeArgs);
    sampler = new RssSampler(supervisor.pid);
    let last = batch.read();
    let lastLog = now();
    for (;;) {
      last = batch.read();
      const elapsed = now() - supervisor.startedAt;
      if (last.unfinished === 0 || elapsed > options.budgetMs) break;
      if (supervisor.exited) throw new Error(`the supervisor exited during the drain:\n${supervisor.log}`);
      if (now() - lastLog > 10_000) {
        log(`  ${options.jobs - last.unfinished}/${options.jobs} done after ${(elapsed / 1000).toFixed(0)} s`);
        lastLog = now();
      }
      await changeOrTimeout(watcher, 50);
    }
    const ms = now() - supervisor.startedAt;
    const peakRssKb = sampler.stop();
    const done = options.jobs - last.unfinished;
    await supervisor.stop(options.stopGraceMs);
    const sizeAfter = fs.statSync(path.join(home, 'jobs.json')).size;
    isolatedMs.push(await bareDrain(options.jobs, options.count, 'true', dir, 'isolated'));
    bareMs.push(await bareDrain(options.jobs, options.count, 'true', dir));
    return {
      jobs: options.jobs,
      finished: options.finished,
      done,
      ms,
      timedOut: last.unfinished > 0,
      jobsPerSec: (done / ms) * 1000,
      bareJobsPerSec: (options.jobs / mean(bareMs)) * 1000,
      bareMs,
      isolatedJobsPerSec: (options.jobs / mean(isolatedMs)) * 1000,
      isolatedMs,
      peakRssKb,
      peakPrimaryKb: sampler.peakPrimaryKb,
      peakChildren: sampler.peakChildren,
      rssSamples: sampler.samples,
      sizeAfter,
      last,
      supervisorPid: supervisor.pid,
      supervisorLog: supervisor.log,
    };
  } finally {
    watcher?.close();
    sampler?.stop();
    supervisor?.kill();
    cleanup();
  }
}

/** Wall-clock time in ms with sub-ms precision, comparable with `date +%s%N`. */
const wallMs = () => performance.timeOrigin + performance.now();

/** The time written by `date +%s%N > file`, in ms; waits for the file to be written. */
async function stampIn(file: string, timeoutMs = 10_000): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      // Not created yet.
    }
    if (text.endsWith('\n')) {
      const ns = BigInt(text.trim());
      return Number(ns / 1000n) / 1000;
    }
    if (now() > deadline) throw new Error(`${path.basename(file)} was not written within ${timeoutMs} ms`);
    await sleep(2);
  }
}

async function waitFinished(batch: BatchWatch, timeoutMs = 30_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (batch.read().unfinished > 0) {
    if (now() > deadline) throw new Error('a pickup job did not finish in time');
    await sleep(5);
  }
}

export interface PickupResult {
  latencies: number[];
  baselines: number[];
  /** VmRSS of the idle supervisor once the samples are done, and of a bare idle `node`. */
  idle: { primaryKb: number; workersKb: number[]; nodeKb: number };
}

/**
 * With an idle supervisor: from `queuectl enqueue` returning to the job's command running
 * (`date +%s%N`), one job at a time. The baseline is the same `sh -c 'date …'` spawned directly,
 * the floor of what the job's own start costs.
 */
export async function pickup(samples: number, count: number): Promise<PickupResult> {
  const { dir, home, cleanup } = project('pickup');
  let supervisor: Supervisor | null = null;
  try {
    const stamps = path.join(dir, 'stamps');
    fs.mkdirSync(stamps);
    supervisor = new Supervisor(dir, count);
    // A first job proves the workers are up; the measured jobs then find them idle.
    const warm = path.join(stamps, 'warm');
    queuectl(['enqueue', '--id', 'warm', '--', `date +%s%N > ${warm}`], dir);
    await stampIn(warm, 30_000);
    await waitFinished(new BatchWatch(path.join(home, 'jobs.json'), 'warm'));
    const latencies: number[] = [];
    const baselines: number[] = [];
    for (let i = 0; i < samples; i++) {
      if (supervisor.exited) throw new Error(`the supervisor exited:\n${supervisor.log}`);
      const bare = path.join(stamps, `bare-${i}`);
      const spawned = wallMs();
      await new Promise((resolve, reject) => spawn('/bin/sh', ['-c', `date +%s%N > ${bare}`], { stdio: 'ignore' }).on('exit', resolve).on('error', reject));
      baselines.push((await stampIn(bare)) - spawned);

      const file = path.join(stamps, `pick-${i}`);
      queuectl(['enqueue', '--id', `pick-${pad(i)}`, '--', `date +%s%N > ${file}`], dir);
      const returned = wallMs();
      latencies.push((await stampIn(file)) - returned);
      // Idle again: the result is recorded and the supervisor has had a moment to settle.
      await waitFinished(new BatchWatch(path.join(home, 'jobs.json'), `pick-${pad(i)}`));
      await sleep(100);
    }
    // Idle with every worker having run jobs: what a supervisor holds between bursts.
    await sleep(1_000);
    const tree = rssTreeKb(supervisor.pid);
    if (tree.children.length !== count) throw new Error(`expected ${count} workers, found ${tree.children.length}`);
    const idle = { primaryKb: tree.primary, workersKb: tree.children, nodeKb: await idleNodeRssKb() };
    await supervisor.stop();
    return { latencies, baselines, idle };
  } finally {
    supervisor?.kill();
    cleanup();
  }
}

export interface CliResult {
  enqueueMs: number;
  statusMs: number;
  nodeMs: number;
}

/** `enqueue` and `status` against `node -e 0`, interleaved in one loop; medians. */
export function cliTimes(runs: number, finished: number): CliResult {
  const { dir, home, cleanup } = project(`cli-${finished}`);
  try {
    if (finished > 0) copyStore(home, finished);
    queuectl(['enqueue', '--id', 'first', '--', 'true'], dir);
    const enqueue: number[] = [];
    const status: number[] = [];
    const node: number[] = [];
    for (let i = 0; i < runs; i++) {
      node.push(timeNode(['-e', '0'], dir).ms);
      enqueue.push(queuectl(['enqueue', '--id', `cli-${pad(i)}`, '--', 'true'], dir).ms);
      node.push(timeNode(['-e', '0'], dir).ms);
      status.push(queuectl(['status'], dir).ms);
    }
    return { enqueueMs: median(enqueue), statusMs: median(status), nodeMs: median(node) };
  } finally {
    cleanup();
  }
}

/** `list --json` of every job in a store of `finished` jobs against `node -e 0`, interleaved; medians. */
export function listTimes(runs: number, finished: number): { listMs: number; nodeMs: number; bytes: number } {
  const { dir, home, cleanup } = project(`list-${finished}`);
  try {
    copyStore(home, finished);
    const list: number[] = [];
    const node: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      node.push(timeNode(['-e', '0'], dir).ms);
      const result = queuectl(['list', '--json'], dir);
      list.push(result.ms);
      bytes = result.stdout.length;
      const listed = (JSON.parse(result.stdout) as unknown[]).length;
      if (listed !== finished) throw new Error(`list --json printed ${listed} jobs, expected ${finished}`);
    }
    return { listMs: median(list), nodeMs: median(node), bytes };
  } finally {
    cleanup();
  }
}

export interface BulkResult {
  fileMs: number;
  stdinMs: number;
  nodeMs: number;
}

/** `enqueue --file` of `total` JSON lines, from a file and from stdin, each into a fresh store. */
export function bulk(total: number, runs: number): BulkResult {
  const file: number[] = [];
  const stdin: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const source of ['file', 'stdin'] as const) {
      const { dir, cleanup } = project(`bulk-${source}`);
      try {
        const lines = jsonLines('bulk', total, 'true');
        fs.writeFileSync(path.join(dir, 'jobs.jsonl'), lines);
        node.push(timeNode(['-e', '0'], dir).ms);
        const result = source === 'file' ? queuectl(['enqueue', '--file', 'jobs.jsonl'], dir) : queuectl(['enqueue', '--file', '-'], dir, lines);
        const added = result.stdout.trim().split('\n').length;
        if (added !== total) throw new Error(`enqueue --file from ${source} printed ${added} ids, expected ${total}`);
        (source === 'file' ? file : stdin).push(result.ms);
      } finally {
        cleanup();
      }
    }
  }
  return { fileMs: median(file), stdinMs: median(stdin), nodeMs: median(node) };
}

export { percentile, median };
