/**
 * The short soak in `npm test`: about a minute of faults (see test/soak/main.ts), then the
 * checker's verdict. The seed is random unless SOAK_SEED is set; a failure prints it, and
 * `npm run soak -- --seconds 60 --seed N` replays the same fault schedule.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'soak', 'main.ts');
const SECONDS = Number(process.env.SOAK_SECONDS) || 60;
/** Faults, then heal, drain and stop (each bounded in main.ts); past this the soak has hung. */
const LIMIT_MS = (SECONDS + 240) * 1000;

function soak(seed: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--seconds', String(SECONDS), '--seed', String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    // SIGTERM lets the soak kill every process it started before it exits.
    const limit = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, output });
    });
  });
}

const count = (output: string, pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? -1);

// ---

const short = suite('the short soak');

short(`${SECONDS} s of crashes, stops and interrupts: nothing acknowledged is lost, nothing unexpected appears, no job runs twice at once, nothing is stuck`, async () => {
  const seed = Number(process.env.SOAK_SEED) || Math.floor(Math.random() * 2 ** 31);
  const { code, output } = await soak(seed);
  const replay = `\n--- soak output (replay: npm run soak -- --seconds ${SECONDS} --seed ${seed}):\n${output}`;
  assert.match(output, new RegExp(`^soak: seed ${seed}$`, 'm'), `the seed is printed first${replay}`);
  assert.match(output, /^verdict: PASS/m, `the checker found violations${replay}`);
  assert.is(code, 0, replay);
  // The soak must have done something worth checking.
  assert.ok(count(output, /(\d+) acknowledged/) >= 50, `too few jobs acknowledged${replay}`);
  assert.ok(count(output, /executions: (\d+) runs started/) >= 50, `too few runs${replay}`);
  assert.ok(count(output, /faults: (\d+) injected/) >= 15, `too few faults${replay}`);
  assert.ok(count(output, /(\d+) interrupted runs recorded/) >= 1, `no run was ever interrupted${replay}`);
  if (process.env.SOAK_VERBOSE) process.stdout.write(output);
});

short.run();
