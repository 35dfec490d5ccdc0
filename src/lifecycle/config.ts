import { parseDuration } from './duration.ts';
import { invalid } from './error.ts';

/**
 * The settings table. Adding a key is one entry: how to parse it, its default, what it means.
 * `config set`, `config.json` and the QUEUECTL_* environment variables all go through `parse`.
 */
interface Setting {
  default: number | string | number[];
  description: string;
  parse(raw: unknown): number | string | number[];
}

function integer(min: number, max: number) {
  return (raw: unknown): number => {
    const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

function decimal(min: number, max: number) {
  return (raw: unknown): number => {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`expected a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/** The most runs a job may be given. */
export const MAX_RUNS = 1000;

/**
 * `max_retries`: the number of runs a job gets, first one included (3 means three runs). Zero
 * would read as "no retries" but is no run at all, so it is refused rather than guessed at.
 */
export function runCount(raw: unknown): number {
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (value === 0) throw new Error(`a job gets at least one run: max_retries counts runs (3 means three runs), so it must be from 1 to ${MAX_RUNS}, got ${JSON.stringify(raw)}`);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_RUNS) {
    throw new Error(`expected a whole number of runs from 1 to ${MAX_RUNS}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A duration such as `30s` or `5m`, or `off`. */
function durationOrOff(raw: unknown): string {
  if (raw === 'off' || raw === null) return 'off';
  if (typeof raw !== 'string') throw new Error(`expected a duration such as 30s or 5m, or off, got ${JSON.stringify(raw)}`);
  parseDuration(raw);
  return raw;
}

function duration(raw: unknown): string {
  if (typeof raw !== 'string') throw new Error(`expected a duration such as 10s or 5m, got ${JSON.stringify(raw)}`);
  parseDuration(raw);
  return raw;
}

export function exitCodeList(raw: unknown): number[] {
  const items = typeof raw === 'string' ? (raw.trim() === '' ? [] : raw.split(',')) : raw;
  if (!Array.isArray(items)) throw new Error(`expected exit codes such as 2,126,127, got ${JSON.stringify(raw)}`);
  const codes = items.map((item) => integer(1, 255)(typeof item === 'string' ? item.trim() : item));
  return [...new Set(codes)].sort((a, b) => a - b);
}

export const SETTINGS = {
  max_retries: { default: 3, description: 'runs a job gets before it is dead, at least 1 (fixed on the job at enqueue)', parse: runCount },
  backoff_base: { default: 2, description: 'after its Nth failed run, a job waits backoff_base ^ N seconds before the next', parse: decimal(1, 3600) },
  job_timeout: { default: 'off', description: 'default time limit for a job, such as 30m, or off', parse: durationOrOff },
  no_retry_on: { default: [], description: 'exit codes that send a job straight to the DLQ, such as 2,126,127', parse: exitCodeList },
  kill_grace: { default: '10s', description: 'how long a job may take to exit after SIGTERM before it gets SIGKILL', parse: duration },
  keep_finished: { default: 500, description: 'finished jobs kept in jobs.json; older completed and cancelled ones move to archive.jsonl', parse: integer(0, 1_000_000) },
  log_max_bytes: { default: 10485760, description: 'largest output log kept per job, in bytes; the rest is cut', parse: integer(1024, 2 ** 40) },
  backoff_max: { default: 'off', description: 'the longest wait between retries, such as 10m, or off: backoff_base ^ N is cut to it', parse: durationOrOff },
  backoff_jitter: { default: 0, description: 'from 0 to 1: each wait between retries is shortened by up to this fraction, at random (0: exact waits)', parse: decimal(0, 1) },
} satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export interface Config {
  max_retries: number;
  backoff_base: number;
  job_timeout: string;
  no_retry_on: number[];
  kill_grace: string;
  keep_finished: number;
  log_max_bytes: number;
  backoff_max: string;
  backoff_jitter: number;
}

export const DEFAULT_CONFIG: Config = Object.fromEntries(
  SETTING_KEYS.map((key) => [key, SETTINGS[key].default]),
) as unknown as Config;

/** Both spellings are accepted: `max-retries` and `max_retries`. */
export function resolveKey(name: string): SettingKey {
  const key = name.trim().toLowerCase().replace(/-/g, '_');
  if (!(key in SETTINGS)) {
    throw invalid(`unknown config key "${name}"; known keys: ${SETTING_KEYS.map((k) => k.replace(/_/g, '-')).join(', ')}`);
  }
  return key as SettingKey;
}

export function parseSetting(key: SettingKey, raw: unknown, source: string): Config[SettingKey] {
  try {
    return SETTINGS[key].parse(raw);
  } catch (error) {
    throw invalid(`${source}: invalid value for ${key}: ${(error as Error).message}`);
  }
}

export function withSetting(config: Config, key: SettingKey, value: Config[SettingKey]): Config {
  return { ...config, [key]: value };
}

/** Validates a parsed `config.json`; every key must be known, missing keys take their default. */
export function configFromDocument(doc: unknown, file: string): Config {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw invalid(`${file}: expected a JSON object of settings`);
  }
  let config = { ...DEFAULT_CONFIG };
  for (const [name, raw] of Object.entries(doc)) {
    if (!(name in SETTINGS)) throw invalid(`${file}: unknown setting "${name}"; known settings: ${SETTING_KEYS.join(', ')}`);
    const key = name as SettingKey;
    config = withSetting(config, key, parseSetting(key, raw, file));
  }
  return config;
}

/** The environment variable that overrides a setting: QUEUECTL_MAX_RETRIES for max_retries. */
export function envVariable(key: SettingKey): string {
  return `QUEUECTL_${key.toUpperCase()}`;
}

/** QUEUECTL_MAX_RETRIES and friends override the file. */
export function applyEnv(config: Config, env: NodeJS.ProcessEnv): Config {
  let result = config;
  for (const key of SETTING_KEYS) {
    const name = envVariable(key);
    const raw = env[name];
    if (raw !== undefined && raw !== '') result = withSetting(result, key, parseSetting(key, raw, name));
  }
  return result;
}

export const SETTING_SOURCES = ['default', 'file', 'environment'] as const;
export type SettingSource = (typeof SETTING_SOURCES)[number];

/** Where each setting in force comes from, given the keys config.json sets: as `applyEnv` decides. */
export function settingSources(fileKeys: readonly string[], env: NodeJS.ProcessEnv): Record<SettingKey, SettingSource> {
  const source = (key: SettingKey): SettingSource =>
    env[envVariable(key)] !== undefined && env[envVariable(key)] !== '' ? 'environment' : fileKeys.includes(key) ? 'file' : 'default';
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, source(key)])) as Record<SettingKey, SettingSource>;
}

export function formatSetting(value: Config[SettingKey]): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** `job_timeout` as milliseconds, or null when off. */
export function defaultTimeout(config: Config): string | null {
  return config.job_timeout === 'off' ? null : config.job_timeout;
}

/**
 * The keys a settings file keeps after a change: those it held, and those the change made
 * different. A key never set stays out, so its default can change with a new version.
 */
export function keysToWrite(stored: readonly string[], before: Config, after: Config): SettingKey[] {
  return SETTING_KEYS.filter((key) => stored.includes(key) || JSON.stringify(before[key]) !== JSON.stringify(after[key]));
}
