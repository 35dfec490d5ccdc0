/**
 * What a user may say about a new job, in a JSON spec or with flags, validated into a NewJob.
 * Everything is checked before anything is written: bad input changes no file.
 */
import path from 'node:path';
import { defaultTimeout, exitCodeList, runCount, type Config } from './config.ts';
import { parseDuration } from './duration.ts';
import { invalid } from './error.ts';
import { DEFAULT_QUEUE, type NewJob } from './job.ts';
import { envProblem, ID_PATTERN } from './jobfile/schema.ts';
import { checkQueueName } from './queue.ts';

export const SPEC_KEYS = ['id', 'command', 'max_retries', 'priority', 'run_at', 'delay', 'timeout', 'no_retry_on', 'cwd', 'env', 'queue', 'after', 'backoff_max', 'backoff_jitter'] as const;
type SpecKey = (typeof SPEC_KEYS)[number];
export type Spec = Partial<Record<SpecKey, unknown>>;

export interface SpecContext {
  config: Config;
  cwd: string;
  now: Date;
}

/**
 * Ten characters of base 36: short enough to type, random enough never to collide in practice.
 * The global Web Crypto is loaded on first use, so commands that make no id never load it.
 */
export function generateId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(10)), (byte) => alphabet[byte % 36]).join('');
}

/** Quotes one word for `sh` only when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `-- CMD` runs CMD as a shell command line; `-- CMD ARG...` runs the words exactly as given. */
export function commandFromWords(words: readonly string[]): string {
  return words.length === 1 ? (words[0] as string) : words.map(shellQuote).join(' ');
}

/** `--env KEY=VALUE`, repeatable, as the spec's `env` object; the names are checked with the spec. */
export function envFromFlags(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw invalid(`--env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, equals);
    if (Object.hasOwn(env, name)) throw invalid(`--env ${name} is given twice`);
    env[name] = pair.slice(equals + 1);
  }
  return env;
}

export function parseSpecJson(text: string, where: string): Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(`${where}: invalid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where}: a job spec must be a JSON object such as {"id":"job1","command":"sleep 2"}`);
  }
  return value as Spec;
}

function integerField(spec: Spec, key: SpecKey, min: number, max: number): number | undefined {
  const value = spec[key];
  if (value === undefined) return undefined;
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw invalid(`${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function runsField(spec: Spec): number | undefined {
  if (spec.max_retries === undefined) return undefined;
  try {
    return runCount(spec.max_retries);
  } catch (error) {
    throw invalid(`max_retries: ${(error as Error).message}`);
  }
}

function envField(spec: Spec): Record<string, string> {
  if (spec.env === undefined) return {};
  const problem = envProblem(spec.env);
  if (problem !== null) throw invalid(`env: ${problem}`);
  return { ...(spec.env as Record<string, string>) };
}

/** `after`: an array of job ids, or (from `--after`) one comma-separated string of them. */
function afterField(spec: Spec): string[] {
  const value = spec.after;
  if (value === undefined || value === null) return [];
  const ids = typeof value === 'string' ? value.split(',').map((id) => id.trim()).filter(Boolean) : value;
  // `--after "$BUILD_ID"` with an empty variable would otherwise run at once, waiting for nothing.
  if (typeof value === 'string' && (ids as string[]).length === 0) throw invalid(`after needs one or more job ids, such as --after build,lint; got ${JSON.stringify(value)}`);
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalid(`after must be a list of job ids such as ["build"], got ${JSON.stringify(value)}`);
  for (const id of ids as string[]) if (!ID_PATTERN.test(id)) throw invalid(`after: invalid job id ${JSON.stringify(id)}`);
  return [...new Set(ids as string[])];
}

/** `backoff_jitter`: a fraction from 0 to 1, as a number or (from the flag) its text. */
function jitterField(spec: Spec): number | null {
  const value = spec.backoff_jitter;
  if (value === undefined || value === null) return null;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < 0 || number > 1) {
    throw invalid(`backoff_jitter must be a number from 0 to 1 (the fraction a wait may be shortened by), got ${JSON.stringify(value)}`);
  }
  return number;
}

function stringField(spec: Spec, key: SpecKey): string | undefined {
  const value = spec[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function durationField(key: SpecKey, text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw invalid(`${key}: ${(error as Error).message}`);
  }
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Milliseconds since the epoch, or NaN. Date.parse alone would roll 2030-02-30 over to March 2,
 * and would read a date alone as UTC midnight where a date and time without a zone is local.
 */
function parseIsoTime(input: string): number {
  const text = input.trim();
  const match = ISO_TIME.exec(text);
  if (!match) return Number.NaN;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  const real = calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!real) return Number.NaN;
  return match[4] === undefined ? Date.parse(`${text.slice(0, 10)}T00:00${text.slice(10)}`) : Date.parse(text);
}

function runAt(spec: Spec, now: Date): Date {
  const at = stringField(spec, 'run_at');
  const delay = stringField(spec, 'delay');
  if (at !== undefined && delay !== undefined) throw invalid('give run_at or delay, not both');
  if (delay !== undefined) return new Date(now.getTime() + durationField('delay', delay));
  if (at === undefined) return now;
  const time = parseIsoTime(at);
  if (Number.isNaN(time)) throw invalid(`run_at must be an ISO 8601 time such as 2030-01-01T09:00:00Z, got ${JSON.stringify(at)}`);
  return new Date(time);
}

/** Validates a spec into a job to create. Unknown keys are refused: a typo must not pass silently. */
export function jobFromSpec(spec: Spec, ctx: SpecContext): NewJob {
  for (const key of Object.keys(spec)) {
    if (!(SPEC_KEYS as readonly string[]).includes(key)) {
      throw invalid(`unknown key "${key}" in job spec; known keys: ${SPEC_KEYS.join(', ')}`);
    }
  }
  const command = stringField(spec, 'command');
  if (command === undefined || command.trim() === '') throw invalid('a job needs a "command": the shell command to run');
  const id = stringField(spec, 'id') ?? generateId();
  if (!ID_PATTERN.test(id)) throw invalid(`invalid id ${JSON.stringify(id)}: use letters, digits and . _ : @ + - (at most 128, starting with a letter or digit)`);
  const timeout = stringField(spec, 'timeout') ?? defaultTimeout(ctx.config);
  if (timeout !== null) durationField('timeout', timeout);
  const backoffMax = stringField(spec, 'backoff_max') ?? null;
  if (backoffMax !== null) durationField('backoff_max', backoffMax);
  let noRetryOn = ctx.config.no_retry_on;
  if (spec.no_retry_on !== undefined) {
    try {
      noRetryOn = exitCodeList(spec.no_retry_on);
    } catch (error) {
      throw invalid(`no_retry_on: ${(error as Error).message}`);
    }
  }
  return {
    id,
    command,
    cwd: path.resolve(ctx.cwd, stringField(spec, 'cwd') ?? '.'),
    max_retries: runsField(spec) ?? ctx.config.max_retries,
    priority: integerField(spec, 'priority', -1_000_000, 1_000_000) ?? 0,
    run_at: runAt(spec, ctx.now),
    timeout,
    no_retry_on: noRetryOn,
    backoff_max: backoffMax,
    backoff_jitter: jitterField(spec),
    env: envField(spec),
    queue: checkQueueName(stringField(spec, 'queue') ?? DEFAULT_QUEUE),
    after: afterField(spec),
  };
}
