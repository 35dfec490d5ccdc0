/**
 * The randomized soak: `npm run soak -- --seconds 300 --seed N`.
 *
 * Enqueuers and supervisors share one store while a seeded nemesis kills, stops and interrupts
 * them; then the nemesis heals, the queue drains, the supervisors stop, and the checker reads
 * the history and the final state. Prints the seed first, then the counts and a verdict line;
 * exits 1 on any violation (and keeps the run's directory for a look), 0 otherwise.
 *
 * Options: --seconds N (default 300), --seed N (default: random), --supervisors N (2),
 * --workers N per supervisor (2), --enqueuers N (2), --keep (keep the directory anyway).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { queuectl } from '../support/cli.ts';
import { processesWithEnv, trySignal } from '../support/supervisor-proc.ts';
import { check, VIOLATIONS, violations, type FinalJob, type Report } from './checker.ts';
import { Fleet } from './fleet.ts';
import { HistoryWriter, readHistory } from './history.ts';
import { Nemesis } from './nemesis.ts';
import { derive, rng } from './prng.ts';
import { Enqueuer, jobSpec, worldPaths, type World } from './workload.ts';

interface Options {
  seconds: number;
  seed: number;
  supervisors: number;
  workers: number;
  enqueuers: number;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 300, seed: Math.floor(Math.random() * 2 ** 31), supervisors: 2, workers: 2, enqueuers: 2, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === '--keep') {
      options.keep = true;
      continue;
    }
    const key = flag.replace(/^--/, '') as keyof Options;
    const value = Number(argv[++i]);
    if (!['seconds', 'seed', 'supervisors', 'workers', 'enqueuers'].includes(key) || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`soak: unknown option or bad value: ${flag} ${argv[i] ?? ''}\nusage: soak [--seconds N] [--seed N] [--supervisors N] [--workers N] [--enqueuers N] [--keep]\n`);
      process.exit(2);
    }
    (options as unknown as Record<string, number>)[key] = value;
  }
  return options;
}

/** Drain and stop may take this long after the nemesis heals before the run counts as stuck. */
const DRAIN_MS = 120_000;
const STOP_MS = 40_000;

const options = parseOptions(process.argv.slice(2));
const say = (line: string) => process.stdout.write(`${line}\n`);
say(`soak: seed ${options.seed}`);
say(`soak: ${options.seconds} s of faults, ${options.supervisors} supervisors x ${options.workers} workers, ${options.enqueuers} enqueuers`);

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-soak-')));
const home = path.join(dir, '.queuectl');
const world: World = { dir, tag: dir, history: null as unknown as HistoryWriter, paths: worldPaths(dir) };
fs.mkdirSync(world.paths.locks);
fs.mkdirSync(world.paths.flags);
world.history = new HistoryWriter(world.paths.history);

const fleet = new Fleet(dir, world.tag, options.workers, options.supervisors, rng(derive(options.seed, 1)));
const enqueuers = Array.from({ length: options.enqueuers }, (_, i) => new Enqueuer(world, `e${i + 1}`, rng(derive(options.seed, 10 + i))));
const nemesis = new Nemesis({ dir, home, tag: world.tag, fleet, enqueuers }, rng(options.seed));

/** Kills every process this run started, synchronously: groups first, then stragglers by their tag. */
function killEverything(): void {
  fleet.killAll();
  for (const one of enqueuers) if (one.current?.pid) trySignal(one.current.pid, 'SIGKILL');
  for (let round = 0; round < 5; round++) {
    const left = processesWithEnv('SOAK_TAG', world.tag);
    if (left.length === 0) break;
    for (const pid of left) trySignal(pid, 'SIGCONT');
    for (const pid of left) trySignal(pid, 'SIGKILL');
  }
}
process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    say(`soak: interrupted by ${signal}; run directory ${dir}`);
    process.exit(130);
  });
}
// The last resort: a run that does not finish is a failure, and leaves nothing running.
const watchdog = setTimeout(() => {
  say(`verdict: FAIL (the soak did not finish within ${options.seconds + 300} s); run directory ${dir}`);
  process.exit(1);
}, (options.seconds + 300) * 1000);
watchdog.unref();

/** Reads jobs.json now and then during the run: every read must see a whole, valid snapshot. */
function startSampler(problems: string[]): { stop: () => void; count: () => number } {
  let samples = 0;
  const timer = setInterval(() => {
    let text: string;
    try {
      text = fs.readFileSync(path.join(home, 'jobs.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`jobs.json could not be read mid-run: ${(error as Error).message}`);
      return;
    }
    samples++;
    try {
      const doc = JSON.parse(text) as { version?: unknown; jobs?: unknown };
      if (doc.version !== 1 || !Array.isArray(doc.jobs)) throw new Error('not a version 1 document with a jobs array');
    } catch (error) {
      problems.push(`jobs.json read mid-run is damaged (${text.length} bytes, starting ${JSON.stringify(text.slice(0, 60))}): ${(error as Error).message}`);
    }
  }, 150);
  return { stop: () => clearInterval(timer), count: () => samples };
}

function finalJobs(problems: string[]): FinalJob[] {
  const byId = new Map<string, FinalJob>();
  const archive = path.join(home, 'archive.jsonl');
  if (fs.existsSync(archive)) {
    for (const line of fs.readFileSync(archive, 'utf8').split('\n').filter(Boolean)) {
      try {
        const job = JSON.parse(line) as FinalJob;
        byId.set(job.id, job);
      } catch (error) {
        problems.push(`archive.jsonl holds a damaged line: ${(error as Error).message}`);
      }
    }
  }
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(home, 'jobs.json'), 'utf8')) as { jobs: FinalJob[] };
    for (const job of doc.jobs) byId.set(job.id, job);
  } catch (error) {
    problems.push(`the final jobs.json cannot be read: ${(error as Error).message}`);
  }
  const listed = queuectl(['list', '--json'], { cwd: dir });
  if (listed.status !== 0) problems.push(`queuectl list --json exited ${listed.status} at the end: ${listed.stderr.trim()}`);
  else {
    try {
      if (!Array.isArray(JSON.parse(listed.stdout))) throw new Error('not an array');
    } catch (error) {
      problems.push(`queuectl list --json printed something that is not a JSON array: ${(error as Error).message}`);
    }
  }
  return [...byId.values()];
}

/** What a healthy store looks like once everything has stopped. */
function leftovers(): string[] {
  const found: string[] = [];
  const names = fs.existsSync(home) ? fs.readdirSync(home) : [];
  for (const name of names.filter((entry) => entry.includes('.next'))) found.push(`a staging or temp file was left behind: ${name}`);
  for (const name of ['lock', 'lock.takeover']) if (names.includes(name)) found.push(`the ${name} directory is still there after every process stopped`);
  const pidFiles = fs.existsSync(path.join(home, 'supervisors')) ? fs.readdirSync(path.join(home, 'supervisors')) : [];
  if (pidFiles.length > 0) found.push(`PID files left after worker stop: ${pidFiles.join(', ')}`);
  for (const name of names.filter((entry) => entry.endsWith('.json'))) {
    try {
      JSON.parse(fs.readFileSync(path.join(home, name), 'utf8'));
    } catch (error) {
      found.push(`${name} does not parse at the end: ${(error as Error).message}`);
    }
  }
  return found;
}

function pending(): number | null {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(home, 'jobs.json'), 'utf8')) as { jobs: { state: string }[] };
    return doc.jobs.filter((job) => job.state !== 'completed' && job.state !== 'dead').length;
  } catch {
    return null;
  }
}

function printReport(report: Report, extra: { samples: number; elapsed: number; kinds: Record<string, number> }): void {
  const c = report.counts;
  const states = Object.entries(c.byState).map(([state, n]) => `${n} ${state}`).join(', ');
  say(`workload: ${Object.entries(extra.kinds).map(([kind, n]) => `${n} ${kind}`).join(', ')}`);
  say(`enqueues: ${c.attempted} jobs attempted, ${c.acked} acknowledged, ${c.refused} refused, ${c.maybe} maybe (${c.maybePresent} of them present)`);
  const errors = path.join(dir, 'enqueue-errors.log');
  const refusals = fs.existsSync(errors) ? fs.readFileSync(errors, 'utf8').split('\n').filter((line) => / exit (2|4|74|75):/.test(line)) : [];
  for (const line of refusals.slice(0, 5)) say(`  refused: ${line}`);
  say(`final state: ${c.final} jobs: ${states}; ${c.deadByRecoveries} dead after 3 recoveries`);
  say(`executions: ${c.runs} runs started, ${c.runsEnded} ran to their end; ${c.jobsRunMoreThanOnce} jobs ran more than once (${c.extraRuns} extra runs), ${c.interruptedEntries} interrupted runs recorded, recoveries ${c.recoveries}`);
  const faults = Object.entries(nemesis.injected).map(([kind, n]) => `${kind} ${n}`).join(', ');
  const missed = Object.values(nemesis.missed).reduce((sum, n) => sum + (n ?? 0), 0);
  say(`faults: ${nemesis.total} injected (${faults}); ${missed} drawn with nothing to hit`);
  const exits = Object.entries(fleet.exits()).map(([how, n]) => `${n} ${how}`).join(', ');
  say(`supervisors: ${fleet.all.length} started; ended by: ${exits}`);
  say(`checks: ${extra.samples} mid-run reads of jobs.json; run took ${extra.elapsed.toFixed(0)} s`);
  say(VIOLATIONS.map((kind) => `${kind} ${report[kind].length}`).join(', '));
  for (const kind of VIOLATIONS) {
    for (const line of report[kind].slice(0, 10)) say(`  ${kind}: ${line}`);
    if (report[kind].length > 10) say(`  ${kind}: … and ${report[kind].length - 10} more`);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  for (const [key, value] of [['backoff-base', '1'], ['kill-grace', '1s']]) {
    const set = queuectl(['config', 'set', key as string, value as string], { cwd: dir });
    if (set.status !== 0) throw new Error(`config set ${key} failed: ${set.stderr}`);
  }
  const problems: string[] = [];
  const sampler = startSampler(problems);
  fleet.start();
  for (const one of enqueuers) one.start();
  nemesis.start();
  await sleep(options.seconds * 1000);

  say(`soak: healing after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await nemesis.heal();
  await Promise.all(enqueuers.map((one) => one.stop()));
  fleet.heal();
  // One more job after the heal: its commits sweep whatever a killed writer left behind.
  const last = new Enqueuer(world, 'final', rng(0));
  await last.enqueue([jobSpec(world, 'final-00001', 'ok', rng(0))]);

  const deadline = Date.now() + DRAIN_MS;
  while (Date.now() < deadline && pending() !== 0) {
    fleet.heal();
    await sleep(200);
  }
  if (pending() !== 0) say(`soak: the queue did not drain within ${DRAIN_MS / 1000} s`);
  const stop = queuectl(['worker', 'stop', '--timeout', `${STOP_MS / 1000}s`], { cwd: dir });
  if (stop.status !== 0) problems.push(`worker stop exited ${stop.status} after the drain: ${stop.stderr.trim()}`);
  if (!(await fleet.exited(5_000))) problems.push('supervisors still running after worker stop');
  sampler.stop();
  world.history.close();

  const kinds: Record<string, number> = {};
  for (const one of enqueuers) for (const [kind, n] of Object.entries(one.kinds)) kinds[kind] = (kinds[kind] ?? 0) + n;
  const report = check(readHistory(world.paths.history), finalJobs(problems), [...problems, ...fleet.crashes(), ...leftovers()]);
  printReport(report, { samples: sampler.count(), elapsed: (Date.now() - started) / 1000, kinds });
  const failed = violations(report) > 0;
  say(`verdict: ${failed ? 'FAIL' : 'PASS'} (seed ${options.seed}: lost ${report.lost.length}, unexpected ${report.unexpected.length}, concurrent duplicates ${report.overlapping.length}, unexplained duplicates ${report.duplicated.length}, stuck ${report.stuck.length}, phantom ${report.phantom.length}, integrity ${report.integrity.length})`);
  return failed ? 1 : 0;
}

let status: number;
try {
  status = await main();
} catch (error) {
  say(`verdict: FAIL (the soak itself failed: ${(error as Error).stack ?? String(error)})`);
  status = 1;
}
killEverything();
if (status !== 0 || options.keep) say(`soak: run directory kept: ${dir}`);
else fs.rmSync(dir, { recursive: true, force: true });
process.exit(status);
