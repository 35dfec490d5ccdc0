import { startPostgres } from '../test/support/postgres-server.ts';
import { withClient } from '../test/support/postgres.ts';
import { PostgresStore } from '../src/store/postgres/postgres-store.ts';
import { resolveHome } from '../src/store/home.ts';
import { createJob } from '../src/lifecycle/job.ts';
import { encodeJob, decodeJob } from '../src/store/postgres/jobs.ts';
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
    const now = new Date().toISOString();
    const q = (sql: string, p: unknown[] = []) => client.query(sql, p);
    const show = async (sql: string, p: unknown[] = []) => console.log((await q('EXPLAIN (ANALYZE, BUFFERS) ' + sql, p)).rows.map((r) => r['QUERY PLAN']).join('\n'));
    const { ACTIVITY_SQL } = await import('../src/store/postgres/reads.ts');
    await show(ACTIVITY_SQL, [now]);
    let t0 = performance.now(); await q(ACTIVITY_SQL, [now]); console.log('activity', performance.now() - t0);
    const cols = `doc, priority, archived, seq, queuectl_time(doc->>'updated_at') AS updated`;
    const branches = ['pending','processing','completed','failed','dead','cancelled'].map((s) => `(SELECT ${cols} FROM queuectl_jobs WHERE state = '${s}' ORDER BY priority DESC, archived DESC, seq LIMIT 10000)`);
    const sql = `SELECT * FROM (${branches.join(' UNION ALL ')}) AS page ORDER BY priority DESC, archived DESC, seq LIMIT 10000`;
    await show(sql);
    let t = performance.now();
    const rows = (await q(sql)).rows;
    console.log('fetch+parse', (performance.now() - t).toFixed(0));
    t = performance.now();
    rows.map((r) => decodeJob(r.doc));
    console.log('decode', (performance.now() - t).toFixed(0));
    t = performance.now();
    await q(`SELECT doc::text FROM (${sql}) x`);
    console.log('fetch text', (performance.now() - t).toFixed(0));
    await q('CREATE INDEX c ON queuectl_jobs (archived, state, queue)');
    await q('VACUUM ANALYZE queuectl_jobs');
    await show(`SELECT archived, state, queue, count(*)::int AS n FROM queuectl_jobs GROUP BY 1, 2, 3`);
  });
  await store.close();
} finally {
  server.stop();
}
