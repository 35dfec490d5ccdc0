/**
 * Which store the end-to-end suite runs against: the JSON file (the default), or PostgreSQL when
 * the test process has QUEUECTL_TEST_BACKEND=postgres (test/run.mjs runs test/e2e/ both ways).
 * On PostgreSQL every scenario gets a fresh database, a copy of a template that already holds
 * queuectl's schema, on the run's throwaway server (run-server.ts; a server of the file's own when
 * the file runs outside test/run.mjs), and reads the jobs straight from it with psql
 * (synchronous, as the file store's reads are).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Job } from '../../src/lifecycle/job.ts';
import { BINARIES, findServerBinaries, runServer, startPostgres, type RunServer } from './postgres-server.ts';
import { createTemplate } from './run-server.ts';

export type Backend = 'file' | 'postgres';

export const BACKEND: Backend = process.env.QUEUECTL_TEST_BACKEND === 'postgres' ? 'postgres' : 'file';

/** Why the PostgreSQL backend cannot be tested here, or null when it can. */
export function postgresMissing(): string | null {
  return findServerBinaries() === null ? `no PostgreSQL server binaries (${BINARIES.join(', ')}); install Debian's postgresql package` : null;
}

let shared: Promise<RunServer> | null = null;

async function ownServer(): Promise<RunServer> {
  const server = await startPostgres();
  process.on('exit', () => server.stop());
  return { server, template: await createTemplate(server) };
}

function server(): Promise<RunServer> {
  shared ??= Promise.resolve(runServer()).then((run) => run ?? ownServer());
  return shared;
}

export interface Database {
  url: string;
  /** The jobs as the store holds them (the jobs.json shape), in creation order. */
  jobs(): Job[];
  /** Runs SQL as the superuser; returns psql's unaligned output. */
  sql(query: string): string;
}

/** A fresh database, with queuectl's schema and no jobs, on the run's server. */
export async function freshDatabase(): Promise<Database> {
  const { server: started, template } = await server();
  const url = await started.createDatabase({ template });
  const name = new URL(url).pathname.slice(1);
  const psql = path.join(findServerBinaries()!, 'psql');
  const sql = (query: string) => {
    const result = spawnSync(psql, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', started.dir, '-p', String(started.port), '-U', 'postgres', '-d', name, '-c', query], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (result.status !== 0) throw new Error(`psql: ${result.stderr || result.error?.message}`);
    return result.stdout;
  };
  let tableSeen = false;
  return {
    url,
    sql,
    jobs: () => {
      // Without the schema (a database not copied from the template) the queue is empty. Once
      // seen, the table is not looked for again: each psql costs a process, and scenarios read
      // the jobs many times a second while they wait.
      tableSeen ||= sql(`SELECT to_regclass('queuectl_jobs') IS NOT NULL`).trim() === 't';
      if (!tableSeen) return [];
      return JSON.parse(sql(`SELECT coalesce(jsonb_agg(doc ORDER BY seq), '[]'::jsonb) FROM queuectl_jobs WHERE NOT archived`)) as Job[];
    },
  };
}
