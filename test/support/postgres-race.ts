import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'postgres-worker.ts');

export interface RacerResult {
  pid: number;
  code: number | null;
  /** Every line it printed on stdout after "ready", JSON parsed where it is JSON. */
  output: unknown[];
  stderr: string;
}

/**
 * Starts `count` postgres-worker.ts processes, waits until every one has connected, releases them
 * all at once, and resolves when all have exited. Any that is still running after `timeout` is
 * killed, so none outlives the test.
 */
export async function race(count: number, args: (index: number) => string[], { timeout = 60_000 } = {}): Promise<RacerResult[]> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUECTL_')));
  const racers = Array.from({ length: count }, (_, index) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args(index)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const racer = { child, stdout: '', stderr: '', exited: new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))) };
    child.stdout.on('data', (chunk) => (racer.stdout += chunk));
    child.stderr.on('data', (chunk) => (racer.stderr += chunk));
    return racer;
  });
  const killAll = () => racers.forEach((racer) => racer.child.exitCode === null && racer.child.kill('SIGKILL'));
  try {
    await waitFor(() => racers.every((racer) => racer.stdout.startsWith('ready\n') || racer.child.exitCode !== null), { timeout, what: `${count} racers to connect` });
    for (const racer of racers) racer.child.stdin.end('go\n');
    const deadline = new Promise<never>((_, reject) => {
      const timer = setTimeout(() => reject(new Error(`racers still running after ${timeout}ms`)), timeout);
      void Promise.all(racers.map((racer) => racer.exited)).then(() => clearTimeout(timer));
    });
    const codes = await Promise.race([Promise.all(racers.map((racer) => racer.exited)), deadline]);
    return racers.map((racer, index) => ({
      pid: racer.child.pid!,
      code: codes[index] ?? null,
      output: racer.stdout
        .replace(/^ready\n/, '')
        .split('\n')
        .filter(Boolean)
        .map((line) => (line.startsWith('{') ? JSON.parse(line) : line)),
      stderr: racer.stderr,
    }));
  } finally {
    killAll();
  }
}
