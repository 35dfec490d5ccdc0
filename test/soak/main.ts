/**
 * The randomized soak: `npm run soak -- --seconds 300 --seed N [--backend postgres]`.
 *
 * Enqueuers and supervisors share one store while a seeded nemesis kills, stops and interrupts
 * them; then the nemesis heals, the queue drains, the supervisors stop, and the checker reads
 * the history and the final state. Prints the seed first, then the counts and a verdict line;
 * exits 1 on any violation (and keeps the run's directory for a look), 0 otherwise.
 *
 * Options: --seconds N (default 300), --seed N (default: random), --supervisors N (2),
 * --workers N per supervisor (2), --enqueuers N (2), --keep (keep the directory anyway),
 * --backend file|postgres (file: one .queuectl/ on this machine; postgres: a throwaway server and
 * each supervisor on a simulated host of its own, see backend.ts; needs root).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { queuectl } from '../support/cli.ts';
import { processesWithEnv, trySignal } from '../support/supervisor-proc.ts';
import { BACKENDS, fileBackend, postgresBackend, postgresUnavailable, soakEnv, type Backend, type BackendName } from './backend.ts';
import { check, VIOLATIONS, violations, type Report } from './checker.ts';
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
  backend: BackendName;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 300, seed: Math.floor(Math.random() * 2 ** 31), supervisors: 2, workers: 2, enqueuers: 2, keep: false, backend: 'file' };
  const usage = 'usage: soak [--seconds N] [--seed N] [--supervisors N] [--workers N] [--enqueuers N] [--backend file|postgres] [--keep]\n';
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === '--keep') {
      options.keep = true;
      continue;
    }
    if (flag === '--backend') {
      const name = argv[++i] ?? '';
      if (!(BACKENDS as readonly string[]).includes(name)) {
        process.stderr.write(`soak: unknown backend "${name}"; expected one of ${BACKENDS.join(', ')}\n${usage}`);
        process.exit(2);
      }
      options.backend = name as BackendName;
      continue;
    }
    const key = flag.replace(/^--/, '') as keyof Options;
    const value = Number(argv[++i]);
    if (!['seconds', 'seed', 'supervisors', 'workers', 'enqueuers'].includes(key) || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`soak: unknown option or bad value: ${flag} ${argv[i] ?? ''}\n${usage}`);
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
say(`soak: ${options.seconds} s of faults, ${options.supervisors} supervisors x ${options.workers} workers, ${options.enqueuers} enqueuers, ${options.backend} backend`);
if (options.backend === 'postgres') {
  const reason = postgresUnavailable();
  if (reason !== null) {
    say(`verdict: FAIL (the postgres soak cannot run here: ${reason})`);
    process.exit(1);
  }
}

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-soak-')));
let backend: Backend;
try {
  backend = options.backend === 'postgres' ? await postgresBackend(dir, options.supervisors) : fileBackend(dir);
} catch (error) {
  say(`verdict: FAIL (could not set up the ${options.backend} backend: ${(error as Error).stack ?? String(error)})`);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}
if (backend.hosts) say(`soak: hosts ${backend.hosts.hosts.map((host) => `${host.name} (${host.address})`).join(', ')}; PostgreSQL on ${backend.hosts.serverAddress}:${backend.server?.port}`);
const world: World = { dir, tag: dir, history: null as unknown as HistoryWriter, backend, paths: worldPaths(dir) };
fs.mkdirSync(world.paths.locks);
fs.mkdirSync(world.paths.flags);
world.history = new HistoryWriter(world.paths.history);

const fleet = new Fleet(dir, world.tag, options.workers, options.supervisors, rng(derive(options.seed, 1)), backend);
const enqueuers = Array.from({ length: options.enqueuers }, (_, i) => new Enqueuer(world, `e${i + 1}`, rng(derive(options.seed, 10 + i))));
const nemesis = new Nemesis({ dir, home: path.join(dir, '.queuectl'), tag: world.tag, fleet, enqueuers, backend }, rng(options.seed));

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
  backend.close();
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
  say(`checks: ${extra.samples} mid-run reads of ${backend.name === 'file' ? 'jobs.json' : 'list --json'}; run took ${extra.elapsed.toFixed(0)} s`);
  say(VIOLATIONS.map((kind) => `${kind} ${report[kind].length}`).join(', '));
  for (const kind of VIOLATIONS) {
    for (const line of report[kind].slice(0, 10)) say(`  ${kind}: ${line}`);
    if (report[kind].length > 10) say(`  ${kind}: … and ${report[kind].length - 10} more`);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  for (const [key, value] of [['backoff-base', '1'], ['kill-grace', '1s']]) {
    const set = queuectl(['config', 'set', key as string, value as string], { cwd: dir, env: soakEnv(backend, world.tag) });
    if (set.status !== 0) throw new Error(`config set ${key} failed: ${set.stderr}`);
  }
  const problems: string[] = [];
  const sampler = backend.startSampler(problems);
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
  while (Date.now() < deadline && backend.unfinished() !== 0) {
    fleet.heal();
    await sleep(backend.name === 'file' ? 200 : 1000);
  }
  if (backend.unfinished() !== 0) say(`soak: the queue did not drain within ${DRAIN_MS / 1000} s`);
  const stop = queuectl(['worker', 'stop', '--timeout', `${STOP_MS / 1000}s`], { cwd: dir, env: soakEnv(backend, world.tag) });
  if (stop.status !== 0) problems.push(`worker stop exited ${stop.status} after the drain: ${stop.stderr.trim()}`);
  if (!(await fleet.exited(5_000))) problems.push('supervisors still running after worker stop');
  sampler.stop();
  world.history.close();

  const kinds: Record<string, number> = {};
  for (const one of enqueuers) for (const [kind, n] of Object.entries(one.kinds)) kinds[kind] = (kinds[kind] ?? 0) + n;
  const report = check(readHistory(world.paths.history), backend.finalJobs(problems), [...problems, ...fleet.crashes(), ...backend.leftovers()]);
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
