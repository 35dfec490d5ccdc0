/**
 * The coordination ceiling, measured by test/bench/ceiling.ts (K supervisor processes running
 * the store's own turn operation with execution a no-op) in a process of its own, its output
 * kept whole for the report and its `STORE K=N: … = R jobs/s` lines read for the targets.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { benchEnv, ROOT } from './procs.ts';

export const CEILING = path.join(ROOT, 'test', 'bench', 'ceiling.ts');

export interface CeilingResult {
  /** What ceiling.ts printed on stdout, as it printed it. */
  output: string;
  /** jobs/s by store (`postgres`, `file`) and K, as far as the output could be read. */
  rates: Map<string, Map<number, number>>;
  ms: number;
}

export interface CeilingOptions {
  /** Passed as BENCH_JOBS, BENCH_FILE_JOBS and BENCH_K: ceiling.ts's own knobs. */
  jobs: number;
  fileJobs: number;
  ks: number[];
  timeoutMs: number;
}

export const ceilingExists = (): boolean => fs.existsSync(CEILING);

/** Lines like `postgres K=8: 20000 jobs in 4.10 s = 4878 jobs/s (…)`; anything else is left as text. */
export function readRates(output: string): Map<string, Map<number, number>> {
  const rates = new Map<string, Map<number, number>>();
  for (const line of output.split('\n')) {
    const match = /^\W*(postgres\w*|file[\w ]*?)\W+K\s*=\s*(\d+)\b.*?([\d,]+(?:\.\d+)?)\s*jobs\/s/i.exec(line);
    if (!match) continue;
    const store = match[1]!.toLowerCase().startsWith('postgres') ? 'postgres' : 'file';
    if (!rates.has(store)) rates.set(store, new Map());
    rates.get(store)!.set(Number(match[2]), Number(match[3]!.replace(/,/g, '')));
  }
  return rates;
}

export function runCeiling(options: CeilingOptions): Promise<CeilingResult> {
  const started = performance.now();
  const env = { ...benchEnv(), BENCH_JOBS: String(options.jobs), BENCH_FILE_JOBS: String(options.fileJobs), BENCH_K: options.ks.join(',') };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CEILING], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    // Its progress goes on to the bench's stderr; the tail is kept for an error message.
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      errors = (errors + chunk.toString('utf8')).slice(-4_000);
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // Gone already.
      }
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`ceiling.ts exited ${code ?? signal}${signal ? ` (over its ${options.timeoutMs / 1000} s budget?)` : ''}: ${errors.trim().split('\n').slice(-5).join(' / ')}`));
      resolve({ output: output.trimEnd(), rates: readRates(output), ms: performance.now() - started });
    });
  });
}
