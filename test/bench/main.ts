/**
 * `npm run bench`: measures queuectl against baselines run side by side on the same machine,
 * and prints one markdown table. Options:
 *   --quick          scaled down, for development (a few minutes)
 *   --out FILE       also write the table to FILE
 *   --profile DIR    run the drains' supervisors under `node --cpu-prof --cpu-prof-dir DIR`
 *   --only a,b       only these groups: depth, ceiling, postgres, drain, pickup, cli, bulk
 *                    (test/bench/README.md says what each measures)
 *   --dist DIR       measure this build instead of dist/ (to compare two builds)
 *   --label TEXT     what is being measured, for the header (default: the git revision)
 * A missed target is a finding, not an error: the exit status is 0 unless a measurement broke.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { now, ROOT, snapshotDist } from './procs.ts';
import { bulk, cliTimes, drain, listTimes, median, percentile, pickup, type DrainResult } from './measure.ts';
import { count, machine, mb, ms, ratio, renderTable, type Row } from './report.ts';
import { removeTemplates } from './store.ts';
import { postgresFigures } from './postgres.ts';
import { depthFigures, fileCase, postgresCase, type DrainShape } from './depth.ts';
import { ceilingExists, runCeiling } from './coordination.ts';
import { ceilingRows, depthRows, realDrainRows } from './rows.ts';
import { findServerBinaries, startPostgres } from '../support/postgres-server.ts';

interface Args {
  quick: boolean;
  out: string | null;
  profile: string | null;
  only: Set<string> | null;
  dist: string | undefined;
  label: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, out: null, profile: null, only: null, dist: undefined, label: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg === '--out') args.out = path.resolve(value());
    else if (arg === '--profile') args.profile = path.resolve(value());
    else if (arg === '--only') args.only = new Set(value().split(','));
    else if (arg === '--dist') args.dist = path.resolve(value());
    else if (arg === '--label') args.label = value();
    else throw new Error(`unknown option ${arg}; see the top of test/bench/main.ts`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const scale = args.quick
  ? { jobs: 200, workers: 4, stores: [2_000, 20_000], budgetMs: 20_000, samples: 10, cliRuns: 5, bigCliRuns: 3, bulk: 2_000, bulkRuns: 1 }
  : { jobs: 1_000, workers: 4, stores: [10_000, 100_000], budgetMs: 75_000, samples: 30, cliRuns: 11, bigCliRuns: 5, bulk: 10_000, bulkRuns: 3 };
/** The figures at depth, the coordination ceiling and the real drains on PostgreSQL. */
const deep = args.quick
  ? { postgres: [100, 2_000, 10_000], file: [100, 2_000, 10_000], rounds: 3, drain: { jobs: 200, supervisors: 1, workers: 4, budgetMs: 15_000 }, ceiling: { jobs: 4_000, fileJobs: 1_000, timeoutMs: 240_000 }, real: 200, realBudgetMs: 30_000 }
  : { postgres: [100, 10_000, 100_000], file: [100, 10_000, 50_000], rounds: 5, drain: { jobs: 500, supervisors: 1, workers: 4, budgetMs: 60_000 }, ceiling: { jobs: 20_000, fileJobs: 5_000, timeoutMs: 420_000 }, real: 1_000, realBudgetMs: 90_000 };
const [midStore, bigStore] = scale.stores as [number, number];
const wanted = (group: string) => args.only === null || args.only.has(group);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function revision(): string {
  try {
    const git = (...words: string[]) => execFileSync('git', words, { cwd: ROOT, encoding: 'utf8' }).trim();
    return `queuectl ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src', 'package.json') ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'queuectl (no git revision)';
  }
}

try {
  log(`measuring a copy of dist/: ${snapshotDist(args.dist)}${args.dist ? ` (of ${args.dist})` : ''}`);
} catch (error) {
  log((error as Error).message);
  process.exit(1);
}

const header = `${machine()}; ${args.label ?? (args.dist ? `build from ${args.dist}` : revision())}`;
const rows: Row[] = [];
const notes: string[] = [];
const appendix: string[] = [];
let broken = 0;

async function measure(what: string, fn: () => Promise<void> | void, failedRows: string[]): Promise<void> {
  const started = now();
  log(`${what}…`);
  try {
    await fn();
    log(`${what}: ${ms(now() - started)}`);
  } catch (error) {
    broken++;
    log(`${what} broke: ${(error as Error).stack ?? error}`);
    for (const measurement of failedRows) rows.push({ measurement, queuectl: 'error', baseline: '—', ratio: '—', target: '—', pass: false });
    notes.push(`${what} broke: ${String((error as Error).message).split('\n')[0]}`);
  }
}

function drainRows(result: DrainResult, label: string, target: number | null): Row[] {
  const figure = result.timedOut
    ? `${result.jobsPerSec.toFixed(1)} jobs/s (${count(result.done)}/${count(result.jobs)} in ${ms(result.ms)}, budget hit)`
    : `${result.jobsPerSec.toFixed(1)} jobs/s (${ms(result.ms)})`;
  if (result.last.other > 0) notes.push(`${label}: ${result.last.other} jobs ended neither completed nor pending (dead?): the drain is not clean`);
  const isolated = result.jobsPerSec / result.isolatedJobsPerSec;
  const plain = result.jobsPerSec / result.bareJobsPerSec;
  return [
    {
      measurement: `${label}, against the isolated loop`,
      queuectl: figure,
      baseline: `${result.isolatedJobsPerSec.toFixed(0)} jobs/s (${result.isolatedMs.map(ms).join(', ')})`,
      ratio: ratio(isolated),
      target: target === null ? '—' : `≥ ${target}`,
      pass: target === null ? null : isolated >= target,
    },
    {
      measurement: `${label}, against the \`stdio: 'ignore'\` loop`,
      queuectl: figure,
      baseline: `${result.bareJobsPerSec.toFixed(0)} jobs/s (${result.bareMs.map(ms).join(', ')})`,
      ratio: ratio(plain),
      target: '—',
      pass: null,
    },
  ];
}

const drains: { finished: number; result: DrainResult }[] = [];
const total = now();
const hasPostgres = findServerBinaries() !== null;
if (!hasPostgres && (wanted('depth') || wanted('ceiling') || wanted('postgres'))) notes.push('PostgreSQL rows skipped: no server binaries installed (Debian package postgresql)');

if (wanted('depth')) {
  const shape: DrainShape = deep.drain;
  const stores = [
    { store: 'postgres' as const, depths: deep.postgres, targets: { at: deep.postgres[2]!, slower: 1.5, drainRate: 1 / 1.5 } },
    { store: 'file' as const, depths: deep.file, targets: { at: deep.file[1]!, slower: 1.5, drainRate: 0.8 } },
  ];
  for (const { store, depths, targets } of stores) {
    if (store === 'postgres' && !hasPostgres) continue;
    await measure(`${store} at depth (${depths.map(count).join(', ')} pending)`, async () => {
      const server = store === 'postgres' ? await startPostgres() : null;
      try {
        const open = server ? (depth: number) => postgresCase(server, depth) : fileCase;
        rows.push(...depthRows(store, await depthFigures(open, { depths, rounds: deep.rounds, drain: shape }), deep.rounds, shape, targets));
      } finally {
        server?.stop();
      }
    }, depths.map((depth) => `${store}, ${count(depth)} pending`));
  }
  notes.push(`at depth: the jobs pending are \`true\` jobs due an hour from now (not due during the measurement), written directly as jobs.json for the file store and loaded by \`queuectl import\` of that same file into a fresh database per depth for PostgreSQL (a throwaway server on this machine, fsync off, over TCP on 127.0.0.1; ANALYZE after the load); \`enqueue\` adds a job due in an hour, so the drain runs only its own ${count(shape.jobs)} jobs; the CLI rounds take every depth of a store once in turn; each drain is timed from spawning the supervisor to the batch finished (jobs.json read lock-free every 25 ms, or a count over the primary key on PostgreSQL), bracketed by two bare spawn loops at the same concurrency, with a ${ms(shape.budgetMs)} budget (jobs/s so far when it runs out); a PostgreSQL drain-rate target of ≥ 0.67 is "within 1.5×"`);
}

if (wanted('ceiling')) {
  const ks = [1, 2, 4, 8, 16];
  if (!ceilingExists()) {
    rows.push({ measurement: 'coordination ceiling: test/bench/ceiling.ts is not in this tree, skipped', queuectl: '—', baseline: '—', ratio: '—', target: 'PostgreSQL ≥ 3,000 jobs/s at K = 8', pass: null });
  } else if (hasPostgres) {
    await measure(`coordination ceiling, K = ${ks.join(', ')}`, async () => {
      const result = await runCeiling({ ...deep.ceiling, ks });
      rows.push(...ceilingRows(result));
      appendix.push(`Output of \`node --import tsx test/bench/ceiling.ts\` (BENCH_JOBS=${deep.ceiling.jobs} BENCH_FILE_JOBS=${deep.ceiling.fileJobs} BENCH_K=${ks.join(',')}), ${ms(result.ms)}:\n\n\`\`\`\n${result.output}\n\`\`\``);
    }, ['coordination ceiling']);
  }
}

if (wanted('postgres') && hasPostgres) {
  const shapes: DrainShape[] = [
    { jobs: deep.real, supervisors: 2, workers: 4, budgetMs: deep.realBudgetMs },
    { jobs: deep.real, supervisors: 8, workers: 2, budgetMs: deep.realBudgetMs },
  ];
  await measure('PostgreSQL real drains', async () => {
    const figures = await postgresFigures(shapes, scale.cliRuns);
    rows.push(...realDrainRows(figures.drains, 0.5));
    const pickup = median(figures.pickupMs);
    rows.push({ measurement: `PostgreSQL: pickup latency, idle supervisor (${scale.workers} workers), ${figures.pickupMs.length} jobs: median`, queuectl: ms(pickup), baseline: '—', ratio: '—', target: '≤ 100 ms', pass: pickup <= 100 });
  }, shapes.map((shape) => `PostgreSQL: drain, ${shape.supervisors} × ${shape.workers}`));
  notes.push(`real drains on PostgreSQL: each on a fresh database, timed from spawning the supervisors to every job finished (a count over the primary key every 25 ms), with a ${ms(deep.realBudgetMs)} budget; the bare loop runs \`/bin/sh -c true\` at the same total concurrency just before and just after`);
}

if (wanted('drain')) {
  for (const finished of [0, midStore, bigStore]) {
    const label = `single host, file store: drain ${count(scale.jobs)} × \`true\`, ${scale.workers} workers, ${finished === 0 ? 'empty store' : `${count(finished)} finished jobs in store`}`;
    const target = finished === 0 ? 0.9 : finished === bigStore ? 0.8 : null;
    await measure(label, async () => {
      const nodeArgs = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];
      const result = await drain({ jobs: scale.jobs, finished, count: scale.workers, budgetMs: scale.budgetMs, nodeArgs, stopGraceMs: args.profile ? 180_000 : 30_000 });
      drains.push({ finished, result });
      rows.push(...drainRows(result, label, target));
      if (args.profile) notes.push(`${label}: CPU profile of supervisor pid ${result.supervisorPid} in ${args.profile}`);
    }, [`${label}, against the isolated loop`]);
  }
}

if (wanted('pickup')) {
  const label = `pickup latency, idle supervisor (${scale.workers} workers), ${scale.samples} jobs`;
  await measure(label, async () => {
    const { latencies, baselines, idle } = await pickup(scale.samples, scale.workers);
    for (const [name, p, target] of [['median', 50, 50], ['p95', 95, 150]] as const) {
      const q = percentile(latencies, p);
      const b = percentile(baselines, p);
      rows.push({ measurement: `${label}: ${name}`, queuectl: ms(q), baseline: ms(b), ratio: ratio(q / b), target: `≤ ${target} ms`, pass: q <= target });
    }
    const workerKb = Math.max(...idle.workersKb);
    rows.push({
      measurement: `idle supervisor: RSS of each worker (largest of ${idle.workersKb.length})`,
      queuectl: `${mb(workerKb * 1024)} (${idle.workersKb.map((kb) => mb(kb * 1024).replace(' MB', '')).join(', ')} MB)`,
      baseline: `${mb(idle.nodeKb * 1024)} (bare idle \`node\`)`,
      ratio: ratio(workerKb / idle.nodeKb),
      target: '≤ 1.25',
      pass: workerKb / idle.nodeKb <= 1.25,
    });
    rows.push({
      measurement: 'idle supervisor: RSS of the primary',
      queuectl: mb(idle.primaryKb * 1024),
      baseline: `${mb(idle.nodeKb * 1024)} (bare idle \`node\`)`,
      ratio: ratio(idle.primaryKb / idle.nodeKb),
      target: '≤ 2',
      pass: idle.primaryKb / idle.nodeKb <= 2,
    });
    notes.push(`idle RSS: VmRSS read 1 s after the last pickup job, every worker having run jobs; the bare \`node\` sits in a timer after start-up`);
    notes.push(`pickup: from \`queuectl enqueue\` returning to the job's \`date +%s%N\`; baseline: \`sh -c 'date +%s%N > f'\` spawned directly (the floor: a job's own start); max ${ms(Math.max(...latencies))}; a negative figure is a job that started before \`enqueue\` had exited (the supervisor sees the new jobs.json at its rename, while \`enqueue\` still syncs the directory, releases the lock and exits)`);
  }, [`${label}: median`, `${label}: p95`, 'idle supervisor: RSS of each worker', 'idle supervisor: RSS of the primary']);
}

function cliRows(finished: number, runs: number): Promise<void> {
  const store = finished === 0 ? 'small store' : `${count(finished)} finished jobs in store`;
  const labels = [`single host, file store: \`queuectl enqueue\` wall time, ${store} (median of ${runs})`, `single host, file store: \`queuectl status\` wall time, ${store} (median of ${runs})`];
  const target = finished === 0 ? 1.3 : 1.5;
  return measure(`enqueue/status, ${store}`, () => {
    const result = cliTimes(runs, finished);
    for (const [label, value] of [[labels[0], result.enqueueMs], [labels[1], result.statusMs]] as const) {
      const r = value / result.nodeMs;
      rows.push({ measurement: label as string, queuectl: ms(value), baseline: `${ms(result.nodeMs)} (\`node -e 0\`)`, ratio: ratio(r), target: `≤ ${target}`, pass: r <= target });
    }
  }, labels);
}

if (wanted('cli')) await cliRows(0, scale.cliRuns);

if (wanted('cli')) {
  const label = `single host, file store: \`queuectl list --json\` wall time, ${count(midStore)} jobs (median of ${scale.bigCliRuns})`;
  await measure(`list --json, ${count(midStore)} jobs`, () => {
    const result = listTimes(scale.bigCliRuns, midStore);
    const r = result.listMs / result.nodeMs;
    rows.push({ measurement: label, queuectl: `${ms(result.listMs)} (${mb(result.bytes)} of JSON)`, baseline: `${ms(result.nodeMs)} (\`node -e 0\`)`, ratio: ratio(r), target: '≤ 2', pass: r <= 2 });
  }, [label]);
}

if (wanted('bulk')) {
  const labels = [`bulk \`enqueue --file jobs.jsonl\`, ${count(scale.bulk)} jobs`, `bulk \`enqueue --file -\` (stdin), ${count(scale.bulk)} jobs`];
  await measure('bulk enqueue', () => {
    const result = bulk(scale.bulk, scale.bulkRuns);
    for (const [label, value] of [[labels[0], result.fileMs], [labels[1], result.stdinMs]] as const) {
      rows.push({ measurement: `${label}${scale.bulkRuns > 1 ? ` (median of ${scale.bulkRuns})` : ''}`, queuectl: ms(value), baseline: `${ms(result.nodeMs)} (\`node -e 0\`)`, ratio: ratio(value / result.nodeMs), target: '≤ 2 s', pass: value <= 2000 });
    }
  }, labels);
}

if (wanted('cli')) await cliRows(bigStore, scale.bigCliRuns);

for (const { finished, result } of drains) {
  if (finished !== 0 && finished !== bigStore) continue;
  const where = finished === 0 ? 'empty store' : `${count(finished)} finished jobs in store`;
  rows.push({
    measurement: `peak RSS, primary + ${scale.workers} workers, during the drain (${where})`,
    queuectl: `${mb(result.peakRssKb * 1024)} (primary ${mb(result.peakPrimaryKb * 1024)} + ${result.peakChildren} workers ${mb((result.peakRssKb - result.peakPrimaryKb) * 1024)})`,
    baseline: '—',
    ratio: '—',
    target: '≤ 300 MB',
    pass: result.peakRssKb * 1024 <= 300 * 2 ** 20,
  });
}
const big = drains.find((entry) => entry.finished === bigStore)?.result;
if (big) {
  rows.push({
    measurement: `jobs.json size after the drain, ${count(bigStore)} finished jobs in store`,
    queuectl: mb(big.sizeAfter),
    baseline: '—',
    ratio: '—',
    target: '≤ 1 MB',
    pass: big.sizeAfter <= 2 ** 20,
  });
  notes.push(`jobs.json size: ${count(bigStore + big.jobs)} jobs (${count(bigStore)} prebuilt completed + the batch), default retention; with no archive every finished job stays in jobs.json and every supervisor turn rewrites it whole`);
}

if (wanted('drain')) notes.push(`drain baselines: the same \`/bin/sh -c true\` spawned from a bare Node loop in a fresh process (timed from its first spawn), ${scale.workers} at a time, run just before and just after the queuectl drain (jobs/s of their mean); the isolated loop gives each job what queuectl gives it (\`detached\`: a process group of its own; stdout and stderr on a log file of its own opened for append), the plain one \`stdio: 'ignore'\`; queuectl is timed from spawning \`worker start\` to jobs.json showing every job finished (read lock-free, on each change and every 50 ms); a drain stops at a ${ms(scale.budgetMs)} budget and reports jobs/s so far`);
notes.push(`repetitions: at depth, ${deep.rounds} CLI rounds per store (medians) and one drain per depth; the ceiling once per K; one drain per shape and per store size, each between two bare loops; single-host CLI medians of ${scale.cliRuns} (${scale.bigCliRuns} for the big stores), pickup ${scale.samples} samples, bulk ${scale.bulkRuns} run${scale.bulkRuns === 1 ? '' : 's'}`);
notes.push(`stores with finished jobs are written directly in the jobs.json format (test/bench/store.ts); each measurement uses a fresh temporary directory; whole run took ${ms(now() - total)}${args.quick ? ' (--quick: scaled down)' : ''}`);
removeTemplates();

const table = renderTable(header, rows, notes, appendix);
process.stdout.write(table);
if (args.out) fs.writeFileSync(args.out, table);
process.exitCode = broken > 0 ? 1 : 0;
