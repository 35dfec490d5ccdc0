import { startPostgres } from '../test/support/postgres-server.ts';
import { withClient } from '../test/support/postgres.ts';
import { PostgresStore } from '../src/store/postgres/postgres-store.ts';
import { resolveHome } from '../src/store/home.ts';
import { createJob } from '../src/lifecycle/job.ts';
import { encodeJob } from '../src/store/postgres/jobs.ts';
import os from 'node:os';
const server = await startPostgres();
try {
  const url = await server.createDatabase();
  const env = { QUEUECTL_DATABASE_URL: url };
  const store = new PostgresStore(url, resolveHome(env, os.tmpdir()), { env, cwd: os.tmpdir(), now: () => new Date() });
  await store.countJobs();
  const at = new Date();
  const template = encodeJob(createJob({ id: 'x', command: 'echo', cwd: '/tmp', max_retries: 3, priority: 0, run_at: at, timeout: null, no_retry_on: [] }, at));
  await withClient(url, async (client) => {
    await client.query(`INSERT INTO queuectl_jobs (doc) SELECT jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{id}', to_jsonb('job-' || lpad(i::text, 6, '0'))), '{command}', to_jsonb('echo ' || i)), '{priority}', to_jsonb(i % 3)) FROM generate_series(0, 99999) AS i ORDER BY i`, [template]);
    await client.query('VACUUM ANALYZE queuectl_jobs');
  });
  const now = new Date();
  for (let round = 0; round < 2; round++) {
    for (const [name, fn] of Object.entries({
      countJobs: () => store.countJobs(),
      processing: () => store.processingJobs(),
      supervisors: () => store.supervisors(),
      lost: () => store.lostClaims([]),
      next: () => store.nextJobs(now),
      activity: () => store.activity(now),
      settings: () => store.queueSettings(),
      deps: () => store.dependencyWaits(100),
      page50: () => store.pageJobs({ order: 'run' }, { offset: 0, limit: 50 }),
      stream10k: () => store.streamJobs({ order: 'run' }, 10000, () => {}),
    })) {
      const t = performance.now();
      await fn();
      console.log(name, (performance.now() - t).toFixed(1));
    }
  }
  await withClient(url, async (client) => {
    for (const sql of [
      `EXPLAIN ANALYZE SELECT archived, state, queue, count(*)::int AS n FROM queuectl_jobs GROUP BY 1, 2, 3`,
      `EXPLAIN ANALYZE SELECT doc FROM queuectl_jobs WHERE state IN ('pending', 'failed') AND NOT archived ORDER BY run_at, seq LIMIT 1`,
      `EXPLAIN ANALYZE SELECT doc FROM queuectl_jobs WHERE state IN ('pending', 'failed') AND NOT archived AND run_at <= now() ORDER BY priority DESC, seq LIMIT 1`,
    ]) console.log((await client.query(sql)).rows.map((r) => r['QUERY PLAN']).join('\n'));
  });
  await store.close();
} finally {
  server.stop();
}
