#!/usr/bin/env node
// Runs every test/**/*.test.ts file in its own process (uvu runs a file's suites in one process;
// separate processes keep files from sharing state and let two run at once), then prints one
// summary line. A run that executed no test fails.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const root = path.dirname(new URL(import.meta.url).pathname);
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(1, Math.min(2, os.availableParallelism()));

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
const measured = {};
const totals = { passed: 0, failed: 0, skipped: 0 };
const broken = [];

function runFile({ file, name, backend }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env, FORCE_COLOR: '0', ...(backend ? { QUEUECTL_TEST_BACKEND: backend } : {}) };
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => {
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

if (process.env.TEST_TIMINGS === 'write') writeFileSync(timingsFile, `${JSON.stringify(Object.fromEntries(Object.entries(measured).sort(([a], [b]) => a.localeCompare(b))), null, 2)}\n`);
if (entries.length === 0) process.stdout.write('no test files matched\n');
if (broken.length > 0) process.stdout.write(`\nfailing files: ${broken.join(', ')}\n`);
process.stdout.write(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exitCode = totals.failed > 0 || totals.passed === 0 || broken.length > 0 ? 1 : 0;
