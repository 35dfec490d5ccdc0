import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'dist', 'main.js');

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** How long it may run before it is killed (and its status is null). */
  timeout?: number;
}

/** Runs the built CLI as a user would, in `cwd`, with a clean QUEUECTL_* environment. */
export function queuectl(args: string[], { cwd, env = {}, input, timeout = 60_000 }: RunOptions): Result {
  // spawnSync kills a child whose output passes maxBuffer (1 MiB by default): `list --json` of a
  // soak's queue is larger than that.
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), input, encoding: 'utf8', timeout, maxBuffer: 256 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.error ? `${result.stderr}${result.error.message}` : result.stderr };
}

export function queuectlAsync(args: string[], { cwd, env = {} }: RunOptions): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUECTL_')));
  return { ...env, NODE_ENV: 'test', ...extra };
}

/** A snapshot of every file under `dir` (path → bytes), to prove a command changed nothing. */
export function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string) => {
    if (!fs.existsSync(current)) return;
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(dir, full), fs.readFileSync(full).toString('base64'));
    }
  };
  walk(dir);
  return files;
}

export function readJobsFile(cwd: string): { version: number; jobs: Record<string, unknown>[] } {
  return JSON.parse(fs.readFileSync(path.join(cwd, '.queuectl', 'jobs.json'), 'utf8'));
}
