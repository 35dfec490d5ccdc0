/** config.json: the settings, read without a lock (a rename makes every read whole) and changed under it. */
import fs from 'node:fs';
import { applyEnv, configFromDocument, DEFAULT_CONFIG, SETTING_KEYS, settingSources, type Config, type SettingKey, type SettingSource } from '../../lifecycle/config.ts';
import { invalid } from '../../lifecycle/error.ts';
import { displayPath, type Home } from '../home.ts';
import { closeFence, ioError, openFenced } from './atomic.ts';
import type { Source } from './adapter.ts';

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('read', file, error as NodeJS.ErrnoException);
  }
}

function parseConfigText(text: string, file: string): Config {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw invalid(`${displayPath(file)} is not valid JSON: ${(error as Error).message}; fix it by hand or restore it from git`);
  }
  return configFromDocument(doc, displayPath(file));
}

export function serializeConfig(config: Config, keys: readonly SettingKey[] = SETTING_KEYS): string {
  return `${JSON.stringify(Object.fromEntries(keys.map((key) => [key, config[key]])), null, 2)}\n`;
}

/** The settings in force: config.json, then QUEUECTL_* environment variables. */
export function readConfig(home: Home, env: NodeJS.ProcessEnv): Config {
  const text = readText(home.config);
  return applyEnv(text === null ? DEFAULT_CONFIG : parseConfigText(text, home.config), env);
}

/** The settings in force as `readConfig` gives them, each with where its value comes from. */
export function readConfigSources(home: Home, env: NodeJS.ProcessEnv): { config: Config; sources: Record<SettingKey, SettingSource> } {
  const text = readText(home.config);
  const config = applyEnv(text === null ? DEFAULT_CONFIG : parseConfigText(text, home.config), env);
  // parseConfigText has validated it: an object of known keys.
  const inFile = text === null ? [] : Object.keys(JSON.parse(text) as object);
  return { config, sources: settingSources(inFile, env) };
}

/** The keys config.json holds now; a missing file holds none. */
export function keysInFile(home: Home): string[] {
  const text = readText(home.config);
  return text === null ? [] : Object.keys(JSON.parse(text) as object);
}

/**
 * config.json as a transaction reads it: the file's settings, without environment overrides.
 * `keys` says which settings a rewrite writes (`config set` writes the one it sets, and those the
 * file held), so that `config list` still tells a default from a choice.
 */
export function configSource(home: Home, keys: () => readonly SettingKey[] = () => SETTING_KEYS): Source<Config> {
  return {
    file: home.config,
    load: () => {
      const { bytes, fence } = openFenced(home.config);
      try {
        return { data: bytes === null ? null : parseConfigText(bytes.toString('utf8'), home.config), bytes, fence };
      } catch (error) {
        closeFence(fence);
        throw error;
      }
    },
    encode: (config) => Buffer.from(serializeConfig(config, keys())),
    absent: () => DEFAULT_CONFIG,
  };
}
