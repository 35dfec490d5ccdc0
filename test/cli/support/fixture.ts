/** What the CLI suites share: a temp directory per test, a hand-written store, and the two outcomes. */
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import type { Job } from '../../../src/lifecycle/job.ts';
import { serializeJobs } from '../../../src/lifecycle/jobfile/encode.ts';
import { queuectl, snapshot, type Result, type RunOptions } from '../../support/cli.ts';
import { job } from '../../support/factory.ts';
import { tempDir } from '../../support/tmp.ts';

/** Runs `body` in a fresh temp directory (its real path, as the CLI sees it), then removes it. */
export function inTemp(body: (dir: string) => void): () => void {
  return () => {
    const { dir, cleanup } = tempDir('queuectl-cli-');
    try {
      body(fs.realpathSync(dir));
    } finally {
      cleanup();
    }
  };
}

/** Every file with its bytes, and every directory: a rejected command must leave both alone. */
export function tree(dir: string): { files: Record<string, string>; dirs: string[] } {
  const dirs: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      dirs.push(path.relative(dir, path.join(current, entry.name)));
      walk(path.join(current, entry.name));
    }
  };
  walk(dir);
  return { files: Object.fromEntries(snapshot(dir)), dirs: dirs.sort() };
}

const shown = (args: readonly string[]) => `queuectl ${args.join(' ')}`;

/** What a command that creates a store says about it, once. */
export const CREATED = /^queuectl: created a new queue in \/\S+\n/;

/** Runs a command that must succeed: exit 0, nothing on stderr but the notice of a new store. */
export function accepts(args: string[], options: RunOptions): Result {
  const result = queuectl(args, options);
  assert.is(result.status, 0, `${shown(args)} exited ${result.status}: ${result.stderr}`);
  assert.is(result.stderr.replace(CREATED, ''), '', `${shown(args)} wrote to stderr`);
  return result;
}

/**
 * Runs a command that must be refused: the given exit status, a message on stderr that says
 * what was wrong, nothing on stdout, and not one file or directory under `cwd` changed.
 */
export function rejects(args: string[], options: RunOptions, expected: { status: number; message: RegExp }): Result {
  const before = tree(options.cwd);
  const result = queuectl(args, options);
  assert.is(result.status, expected.status, `${shown(args)} exited ${result.status}: ${result.stderr}`);
  assert.is(result.stdout, '', `${shown(args)} wrote to stdout`);
  assert.match(result.stderr, expected.message);
  assert.ok(result.stderr.endsWith('\n'), 'the message ends its line');
  assert.not.match(result.stderr, /internal error|\n\s+at /, 'an expected failure shows no stack trace');
  assert.equal(tree(options.cwd), before, `${shown(args)} changed files`);
  return result;
}

export function jobsFile(cwd: string): string {
  return path.join(cwd, '.queuectl', 'jobs.json');
}

/** Writes `.queuectl/jobs.json` by hand, as a person (or git) would. */
export function writeJobsText(cwd: string, text: string): void {
  fs.mkdirSync(path.join(cwd, '.queuectl'), { recursive: true });
  fs.writeFileSync(jobsFile(cwd), text);
}

export function writeJobs(cwd: string, jobs: Job[]): void {
  writeJobsText(cwd, serializeJobs({ version: 1, jobs }));
}

export function readJobs(cwd: string): Job[] {
  return (JSON.parse(fs.readFileSync(jobsFile(cwd), 'utf8')) as { jobs: Job[] }).jobs;
}

/** A job that used up its three attempts `ago` milliseconds before now. */
export function deadJob(id: string, ago = 60_000, overrides: Partial<Job> = {}): Job {
  const end = new Date(Date.now() - ago);
  const attempt = (n: number) => {
    const finished = new Date(end.getTime() - (3 - n) * 10_000).toISOString();
    return { started_at: finished, finished_at: finished, duration_ms: 0, outcome: 'failed' as const, exit_code: 1, signal: null, error: 'exit code 1', retry_at: null };
  };
  const at = end.toISOString();
  const created = new Date(end.getTime() - 30_000).toISOString();
  return job({ id, command: 'false', state: 'dead', attempts: 3, max_retries: 3, created_at: created, updated_at: at, run_at: created, started_at: at, finished_at: at, last_error: 'exit code 1', history: [attempt(1), attempt(2), attempt(3)], ...overrides });
}
