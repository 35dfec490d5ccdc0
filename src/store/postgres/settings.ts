/** The settings on PostgreSQL: `queuectl_config`, one row per key that differs from its default or was set. */
import type { PoolClient } from 'pg';
import { applyEnv, configFromDocument, DEFAULT_CONFIG, SETTING_KEYS, settingSources, type Config } from '../../lifecycle/config.ts';
import { inTransaction } from './connect.ts';
import type { Database } from './database.ts';
import { CHANGE_LOCK } from './transact.ts';

export class Settings {
  constructor(
    private readonly db: Database,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async storedConfig(client: PoolClient): Promise<{ config: Config; keys: string[] }> {
    const result = await client.query<{ key: string; value: unknown }>('SELECT key, value FROM queuectl_config ORDER BY key');
    const doc = Object.fromEntries(result.rows.map((row) => [row.key, row.value]));
    return { config: configFromDocument(doc, 'the queuectl_config table'), keys: Object.keys(doc) };
  }

  async readConfig(): Promise<Config> {
    return this.db.withClient(async (client) => applyEnv((await this.storedConfig(client)).config, this.env));
  }

  async readConfigSources() {
    return this.db.withClient(async (client) => {
      const { config, keys } = await this.storedConfig(client);
      return { config: applyEnv(config, this.env), sources: settingSources(keys, this.env) };
    });
  }

  async updateConfig<T>(fn: (config: Config) => { config: Config; result: T }): Promise<T> {
    return this.db.withClient((client) =>
      inTransaction(client, async () => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOCK]);
        const { config: before } = await this.storedConfig(client);
        const { config, result } = fn(before);
        for (const key of SETTING_KEYS) {
          if (JSON.stringify(config[key]) === JSON.stringify(before[key]) && JSON.stringify(config[key]) === JSON.stringify(DEFAULT_CONFIG[key])) continue;
          await client.query('INSERT INTO queuectl_config (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, JSON.stringify(config[key])]);
        }
        return result;
      }),
    );
  }
}
