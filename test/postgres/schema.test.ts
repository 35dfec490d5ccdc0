import type { ClientBase } from 'pg';
import * as assert from 'uvu/assert';
import { QueueError } from '../../src/lifecycle/error.ts';
import { migrate, MIGRATIONS, schemaVersion, type Migration } from '../../src/store/postgres/schema.ts';
import { pgSuite, withClient } from '../support/postgres.ts';
import { race } from '../support/postgres-race.ts';

const TABLES = ['queuectl_config', 'queuectl_jobs', 'queuectl_meta', 'queuectl_queues', 'queuectl_schema', 'queuectl_supervisors'];
const LATEST = MIGRATIONS.at(-1)!.version;
const VERSIONS = MIGRATIONS.map((migration) => migration.version);

async function tables(client: ClientBase): Promise<string[]> {
  const result = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  return result.rows.map((row) => row.name);
}

async function applied(client: ClientBase): Promise<{ version: number; applied_at: Date }[]> {
  return (await client.query('SELECT version, applied_at FROM queuectl_schema ORDER BY version')).rows;
}

// ---

const fromEmpty = pgSuite('migrate on an empty database');

fromEmpty('creates every table and records every version', async ({ server }) => {
  await withClient(await server.createDatabase(), async (client) => {
    assert.is(await schemaVersion(client), 0);
    assert.equal(await migrate(client), { from: 0, to: LATEST });
    assert.equal(await tables(client), TABLES);
    assert.is(await schemaVersion(client), LATEST);
    assert.equal((await applied(client)).map((row) => row.version), VERSIONS);
    const index = await client.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'queuectl_jobs_claim'`);
    assert.match(index.rows[0].indexdef, /\(priority DESC, seq\) INCLUDE \(run_at, queue\) WHERE \(\(state = ANY \(ARRAY\['pending'::text, 'failed'::text\]\)\) AND \(blocked = 0\) AND \(NOT archived\)\)/);
  });
});

fromEmpty('a migration that fails leaves the database as it was', async ({ server }) => {
  const broken: Migration[] = [...MIGRATIONS, { version: LATEST + 1, description: 'broken', sql: 'CREATE TABLE queuectl_extra (a int); SELECT no_such_function()' }];
  await withClient(await server.createDatabase(), async (client) => {
    const error = await migrate(client, broken).catch((thrown: unknown) => thrown);
    assert.match(String(error), /no_such_function/);
    assert.equal(await tables(client), [], 'not even the first migration is left behind: all migrations are one transaction');
    assert.is(await schemaVersion(client), 0);
  });
});

fromEmpty.run();

// ---

const rerun = pgSuite('migrate on a migrated database');

rerun('does nothing when the schema is current', async ({ server }) => {
  await withClient(await server.createDatabase(), async (client) => {
    await migrate(client);
    const before = await applied(client);
    await client.query(`INSERT INTO queuectl_config (key, value) VALUES ('max-retries', '5')`);
    assert.equal(await migrate(client), { from: LATEST, to: LATEST });
    assert.equal(await applied(client), before);
    assert.equal((await client.query('SELECT key, value FROM queuectl_config')).rows, [{ key: 'max-retries', value: 5 }]);
  });
});

rerun('applies only the migrations the database lacks', async ({ server }) => {
  const next: Migration[] = [...MIGRATIONS, { version: LATEST + 1, description: 'an extra table', sql: 'CREATE TABLE queuectl_extra (a int)' }];
  await withClient(await server.createDatabase(), async (client) => {
    await migrate(client);
    assert.equal(await migrate(client, next), { from: LATEST, to: LATEST + 1 });
    assert.equal((await applied(client)).map((row) => row.version), [...VERSIONS, LATEST + 1]);
    assert.ok((await tables(client)).includes('queuectl_extra'));
  });
});

rerun('refuses a database whose schema is newer than this queuectl, and changes nothing', async ({ server }) => {
  await withClient(await server.createDatabase(), async (client) => {
    await migrate(client);
    await client.query(`INSERT INTO queuectl_schema (version, description) VALUES (7, 'from the future')`);
    const error = await migrate(client).catch((thrown: unknown) => thrown);
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'invalid-input');
    assert.is((error as QueueError).message, `this database holds queuectl schema version 7, newer than this queuectl knows (${LATEST}); upgrade queuectl on this host, or point QUEUECTL_DATABASE_URL at another database`);
    assert.equal((await applied(client)).map((row) => row.version), [...VERSIONS, 7]);
  });
});

rerun.run();

// ---

const racing = pgSuite('migrate from several processes at once');

racing('8 processes on an empty database: one applies the migration, all succeed', async ({ server }) => {
  const url = await server.createDatabase();
  const results = await race(8, () => ['migrate', url]);
  for (const result of results) {
    assert.is(result.code, 0, `process ${result.pid}: ${JSON.stringify(result.output)} ${result.stderr}`);
    assert.is(result.output.at(-1), 'done');
  }
  const outcomes = results.map((result) => result.output[0] as { from: number; to: number });
  assert.is(outcomes.filter((outcome) => outcome.from === 0).length, 1, `exactly one migrated: ${JSON.stringify(outcomes)}`);
  assert.ok(outcomes.every((outcome) => outcome.to === LATEST));
  await withClient(url, async (client) => {
    assert.equal((await applied(client)).map((row) => row.version), VERSIONS);
    assert.equal(await tables(client), TABLES);
  });
});

racing.run();
