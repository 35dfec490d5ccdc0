#!/usr/bin/env node
// Runs every test/**/*.test.ts file in its own process (uvu runs a file's suites in one process;
// separate processes keep files from sharing state and let several run at once), then prints one
// summary line. A run that executed no test fails. The files that use PostgreSQL share one
// throwaway server started here (test/support/run-server.ts), stopped and removed at the end,
// also when a file fails or the run is interrupted.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const root = path.dirname(new URL(import.meta.url).pathname);
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
// Most files spend their time waiting for processes, timers and the database, not on the CPU.
const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(1, Math.min(3, os.availableParallelism() + 1));

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'bench' || entry.name === 'support' ? [] : find(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

// The end-to-end suite runs once per store: the JSON file, and PostgreSQL (QUEUECTL_TEST_BACKEND).
const entries = find(root)
  .sort()
  .flatMap((file) => {
    const name = path.relative(root, file);
    return name.startsWith(`e2e${path.sep}`) ? [{ file, name }, { file, name: `${name} [postgres]`, backend: 'postgres' }] : [{ file, name }];
  })
  .filter(({ name }) => !filter || filter.test(name));

// The slowest files start first, so that two at a time end together instead of one long file
// running alone at the end. test/timings.json holds seconds per file from an earlier full run
// (`TEST_TIMINGS=write` rewrites it); a file it does not know counts as slow.
const timingsFile = path.join(root, 'timings.json');
let timings = {};
try {
  timings = JSON.parse(readFileSync(timingsFile, 'utf8'));
} catch {
  // No timings yet: alphabetical order.
}
entries.sort((a, b) => (timings[b.name] ?? Infinity) - (timings[a.name] ?? Infinity) || a.name.localeCompare(b.name));

// The end-to-end files' PostgreSQL runs and the scenarios that run on PostgreSQL whatever the
// suite's store (`on: 'postgres'`) take their databases from the run's server; any other file
// that starts a server of its own still does.
const usesRunServer = ({ file, backend }) => backend === 'postgres' || /\bon: 'postgres'/.test(readFileSync(file, 'utf8'));
// It starts while the first files that need no server run.
const runServerStarting = entries.some(usesRunServer) ? startRunServer() : Promise.resolve(null);
runServerStarting.catch(() => undefined);
let runServer = null;

async function startRunServer() {
  const { tsImport } = await import('tsx/esm/api');
  const { findServerBinaries } = await tsImport('./support/postgres-server.ts', import.meta.url);
  // Without a server installed, the files report their PostgreSQL tests as skipped themselves.
  if (findServerBinaries() === null) return null;
  const { startRunServer: start } = await tsImport('./support/run-server.ts', import.meta.url);
  const started = await start();
  process.on('exit', () => started.server.stop());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      for (const child of children) child.kill(signal);
      started.server.stop();
      process.stdout.write(`\ninterrupted (${signal}): the test server is stopped and removed\n`);
      process.exit(128 + os.constants.signals[signal]);
    });
  }
  return started;
}

const children = new Set();
const measured = {};
const totals = { passed: 0, failed: 0, skipped: 0 };
const broken = [];

async function runFile(entry) {
  if (usesRunServer(entry)) {
    try {
      runServer = await runServerStarting;
    } catch (error) {
      broken.push(entry.name);
      totals.failed += 1;
      process.stdout.write(`\n✘ ${entry.name}: could not start the test PostgreSQL server\n${error.stack}\n`);
      return;
    }
  }
  await spawnFile(entry);
}

function spawnFile({ file, name, backend }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env, FORCE_COLOR: '0', ...(backend ? { QUEUECTL_TEST_BACKEND: backend } : {}), ...(runServer?.env ?? {}) };
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(child);
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
      children.delete(child);
      const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
      const total = count('Total');
      const passed = count('Passed');
      const skipped = count('Skipped');
      const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
      totals.passed += passed;
      totals.failed += failed;
      totals.skipped += skipped;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      measured[name] = Number(seconds);
      if (backend && code === 0 && total + skipped === 0) {
        // Every scenario of the file is about the file store itself.
        process.stdout.write(`✔ ${name}: none of its scenarios apply (${seconds}s)\n`);
      } else if (code !== 0 || failed > 0 || total + skipped === 0) {
        broken.push(name);
        process.stdout.write(`\n✘ ${name} (${seconds}s, exit ${code ?? signal})\n${output}\n`);
      } else {
        // A file that skips tests says why on a line of its own starting with "skipped: ".
        const reasons = skipped > 0 ? output.split('\n').filter((line) => line.startsWith('skipped: ')).map((line) => `  ${line}\n`).join('') : '';
        process.stdout.write(`✔ ${name}: ${passed} passed${skipped > 0 ? `, ${skipped} skipped` : ''} (${seconds}s)\n${reasons}`);
      }
      resolve();
    });
  });
}

const queue = [...entries];
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (queue.length > 0) await runFile(queue.shift());
}));

(await runServerStarting.catch(() => null))?.server.stop();

if (process.env.TEST_TIMINGS === 'write') writeFileSync(timingsFile, `${JSON.stringify(Object.fromEntries(Object.entries(measured).sort(([a], [b]) => a.localeCompare(b))), null, 2)}\n`);
if (entries.length === 0) process.stdout.write('no test files matched\n');
if (broken.length > 0) process.stdout.write(`\nfailing files: ${broken.join(', ')}\n`);
process.stdout.write(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exitCode = totals.failed > 0 || totals.passed === 0 || broken.length > 0 ? 1 : 0;
