/** Chooses the store once, at start-up: the only place that knows both backends. */
import { FileStore } from './file/file-store.ts';
import { checkHome, resolveHome } from './home.ts';
import { databaseUrl } from './postgres/connect.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import type { Store, StoreOptions } from './store.ts';

/** The store the environment asks for; a path that cannot be a store is refused here. */
export function openStore(options: StoreOptions): Store {
  const home = resolveHome(options.env, options.cwd);
  const url = databaseUrl(options.env);
  // Neither connects nor loads the pg driver until the first query.
  if (url) return new PostgresStore(url, home, options);
  checkHome(home);
  return new FileStore({ home, env: options.env, now: options.now, created: options.created });
}
