/**
 * What the display reads cost at depth, side by side in one run: `status`, `list --limit 50` and
 * `list --json --limit 10000` through the built CLI with 100, 10,000 and 100,000 jobs pending on
 * PostgreSQL (a throwaway server, filled by SQL) and 100, 10,000 and 50,000 on the file store
 * (jobs.json written directly), as medians and as ratios against `node -e 0`. Rounds run every
 * case once in turn, so drift in the machine's load spreads over all of them.
 *
 *   node --import tsx test/bench/reads.ts [rounds]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createJob } from '../../src/lifecycle/job.ts';
import { serializeJobs } from '../../src/lifecycle/jobfile/encode.ts';
import { encodeJob } from '../../src/store/postgres/jobs.ts';
import { withClient } from '../support/postgres.ts';
import { startPostgres } from '../support/postgres-server.ts';
import { benchEnv, now, snapshotDist, temporary } from './procs.ts';
import { median } from './stats.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const COMMANDS: Record<string, string[]> = {
  status: ['status'],
  'list --limit 50': ['list', '--limit', '50'],
  'list --json (10,000)': ['list', '--json', '--limit', '10000'],
};

interface Case {
  store: 'file' | 'postgres';
  depth: number;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const pendingJob = (i: number, at: Date) =>
  createJob({ id: `job-${String(i).padStart(6, '0')}`, command: `echo ${i}`, cwd: '/tmp', max_retries: 3, priority: i % 3, run_at: at, timeout: null, no_retry_on: [] }, at);

function fileCase(depth: number): Case {
  const { dir } = temporary('queuectl-bench-reads-');
  const home = path.join(dir, '.queuectl');
  fs.mkdirSync(home, { mode: 0o700 });
  const at = new Date();
  fs.writeFileSync(path.join(home, 'jobs.json'), serializeJobs({ version: 1, jobs: Array.from({ length: depth }, (_, i) => pendingJob(i, at)) }), { mode: 0o600 });
  return { store: 'file', depth, cwd: dir, env: benchEnv() };
}

async function postgresCase(createDatabase: () => Promise<string>, bin: string, depth: number): Promise<Case> {
  const url = await createDatabase();
  const { dir } = temporary('queuectl-bench-reads-pg-');
  const env = { ...benchEnv(), QUEUECTL_DATABASE_URL: url };
  run(bin, ['status'], dir, env); // creates the schema
  const template = encodeJob(pendingJob(0, new Date()));
  await withClient(url, async (client) => {
    await client.query(
      `INSERT INTO queuectl_jobs (doc)
       SELECT jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb('job-' || lpad(i::text, 6, '0'))), '{command}', to_jsonb('echo ' || i)), '{priority}', to_jsonb(i % 3))
         FROM generate_series(0, $2 - 1) AS i ORDER BY i`,
      [template, depth],
    );
    // The planner's statistics, as autovacuum's analyze would give them. The visibility map stays
    // unset, as on a queue that keeps changing: counts read the heap, the pessimistic case.
    await client.query('ANALYZE queuectl_jobs');
  });
  return { store: 'postgres', depth, cwd: dir, env };
}

/** GNU time gives the CPU time of the command's own process: on a loaded machine, the steadier figure. */
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Sample {
  ms: number;
  /** User and system CPU time of the CLI's process (not the database's); NaN without GNU time. */
  cpuMs: number;
}

function timed(command: string[], cwd: string, env: NodeJS.ProcessEnv): Sample & { status: number | null; stderr: string } {
  const [file, ...args] = TIME ? [TIME, '-f', '@cpu %U %S', ...command] : command;
  const start = now();
  const result = spawnSync(file!, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = now() - start;
  const cpu = /@cpu ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
  return { ms, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN, status: result.status, stderr: result.stderr };
}

function run(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Sample {
  const result = timed([process.execPath, bin, ...args], cwd, env);
  if (result.status !== 0) throw new Error(`queuectl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result;
}

const nodeBaseline = (): Sample => timed([process.execPath, '-e', '0'], process.cwd(), benchEnv());

async function main(): Promise<void> {
  const bin = snapshotDist();
  const server = await startPostgres();
  try {
    process.stderr.write('filling stores…\n');
    const cases: Case[] = [...[100, 10_000, 50_000].map(fileCase)];
    for (const depth of [100, 10_000, 100_000]) cases.push(await postgresCase(server.createDatabase, bin, depth));
    const times = new Map<string, Sample[]>();
    const baseline: Sample[] = [];
    const key = (c: Case, name: string) => `${c.store} ${c.depth} ${name}`;
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round} of ${ROUNDS}\n`);
      baseline.push(nodeBaseline());
      for (const c of cases) {
        for (const [name, args] of Object.entries(COMMANDS)) {
          times.set(key(c, name), [...(times.get(key(c, name)) ?? []), run(bin, args, c.cwd, c.env)]);
        }
      }
    }
    const wall = (samples: readonly Sample[]) => median(samples.map((sample) => sample.ms));
    const cpu = (samples: readonly Sample[]) => median(samples.map((sample) => sample.cpuMs));
    const node = { wall: wall(baseline), cpu: cpu(baseline) };
    const names = Object.keys(COMMANDS);
    const lines = [`node -e 0: ${node.wall.toFixed(0)} ms wall, ${node.cpu.toFixed(0)} ms CPU (medians of ${ROUNDS})`, '', 'wall time (× node -e 0) · CPU time of the CLI process (× node -e 0)', ''];
    lines.push(`| store | jobs pending | ${names.join(' | ')} |`, `|---|--:|${names.map(() => '--:').join('|')}|`);
    for (const c of cases) {
      const cells = names.map((name) => {
        const samples = times.get(key(c, name))!;
        return `${wall(samples).toFixed(0)} ms (${(wall(samples) / node.wall).toFixed(1)}×) · ${cpu(samples).toFixed(0)} ms (${(cpu(samples) / node.cpu).toFixed(1)}×)`;
      });
      lines.push(`| ${c.store} | ${c.depth.toLocaleString('en')} | ${cells.join(' | ')} |`);
    }
    lines.push('', 'against the same command at 100 jobs (wall · CPU):');
    for (const store of ['file', 'postgres'] as const) {
      const [shallow, middle, deep] = cases.filter((c) => c.store === store);
      for (const name of names) {
        const ratio = (c: Case, of: (samples: readonly Sample[]) => number) => (of(times.get(key(c, name))!) / of(times.get(key(shallow!, name))!)).toFixed(2);
        lines.push(`  ${store} ${name}: ${ratio(middle!, wall)} · ${ratio(middle!, cpu)} at ${middle!.depth.toLocaleString('en')}, ${ratio(deep!, wall)} · ${ratio(deep!, cpu)} at ${deep!.depth.toLocaleString('en')}`);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    server.stop();
  }
}

await main();
