import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueError } from '../../src/lifecycle/error.ts';
import { databaseUrl, openPool, parseTarget } from '../../src/store/postgres/connect.ts';
import { ROOT } from '../support/cli.ts';
import { pgSuite, withClient } from '../support/postgres.ts';
import { PASSWORD } from '../support/postgres-server.ts';

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function openError(url: string): Promise<QueueError> {
  const error = await openPool(url).then(
    async (pool) => {
      await pool.end();
      return null;
    },
    (thrown: unknown) => thrown,
  );
  assert.instance(error, QueueError, `openPool(${url}) should fail with a QueueError, got ${String(error)}`);
  return error as QueueError;
}

// ---

const url = suite('the database URL');

url('comes from QUEUECTL_DATABASE_URL; unset or blank means the file store', () => {
  assert.is(databaseUrl({}), null);
  assert.is(databaseUrl({ QUEUECTL_DATABASE_URL: '  ' }), null);
  assert.is(databaseUrl({ QUEUECTL_DATABASE_URL: ' postgres://db/queue ' }), 'postgres://db/queue');
});

url('names host, port, database and user, and never keeps the password', () => {
  assert.equal(parseTarget('postgres://alice:s3cret@db.example:6543/queue'), { host: 'db.example', port: 6543, database: 'queue', user: 'alice' });
  assert.equal(parseTarget('postgresql://bob@db.example/'), { host: 'db.example', port: 5432, database: 'bob', user: 'bob' });
  assert.equal(parseTarget('postgres:///queue?host=/var/run/postgresql'), { host: '/var/run/postgresql', port: 5432, database: 'queue', user: '' });
});

url('anything but a postgres:// URL is invalid input, and the message holds no password', async () => {
  const wrongScheme = await openError('mysql://alice:s3cret@db.example/queue');
  assert.is(wrongScheme.code, 'invalid-input');
  assert.is(wrongScheme.message, 'QUEUECTL_DATABASE_URL must start with postgres:// or postgresql://, not mysql://; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  const notUrl = await openError('alice:s3cret at db.example');
  assert.is(notUrl.code, 'invalid-input');
  assert.not.match(notUrl.message, /s3cret/);
});

url.run();

// ---

const unreachable = suite('an unreachable database');

unreachable('is an I/O error (exit 74) naming host and port, never the password', async () => {
  const port = await closedPort();
  const error = await openError(`postgres://alice:s3cret-pw@127.0.0.1:${port}/queue`);
  assert.is(error.code, 'io-error');
  assert.is(error.exitStatus, 74);
  assert.is(error.message, `cannot reach the PostgreSQL database "queue" at 127.0.0.1:${port}: ECONNREFUSED; check QUEUECTL_DATABASE_URL and that the server runs and accepts connections`);
  assert.not.match(error.message, /s3cret/);
});

unreachable.run();

// ---

const refused = pgSuite('a server that turns the login away');

refused('a database that does not exist is an I/O error naming it', async ({ server }) => {
  const error = await openError(server.url.replace(/\/postgres$/, '/no_such_db'));
  assert.is(error.code, 'io-error');
  assert.is(error.message, `cannot use the database "no_such_db" at 127.0.0.1:${server.port} as user "postgres": the database does not exist (database "no_such_db" does not exist); check QUEUECTL_DATABASE_URL`);
  assert.not.match(error.message, new RegExp(PASSWORD));
});

refused('a wrong password is an I/O error naming the user, never the password', async ({ server }) => {
  const error = await openError(`postgres://postgres:s3cret-pw@127.0.0.1:${server.port}/postgres`);
  assert.is(error.code, 'io-error');
  assert.is(error.exitStatus, 74);
  assert.is(error.message, `cannot use the database "postgres" at 127.0.0.1:${server.port} as user "postgres": the password was refused (password authentication failed for user "postgres"); check QUEUECTL_DATABASE_URL`);
  assert.not.match(error.message, /s3cret/);
});

refused.run();

// ---

const sessions = pgSuite('a connection from openPool');

sessions('names itself and ends a transaction left idle, so a stopped process cannot hold row locks for ever', async ({ server }) => {
  await withClient(server.url, async (client) => {
    const settings = await client.query(`SELECT current_setting('application_name') AS name, current_setting('idle_in_transaction_session_timeout') AS idle`);
    assert.equal(settings.rows, [{ name: 'queuectl', idle: '30s' }]);
  });
});

sessions.run();

// ---

const lazy = suite('loading the driver');

lazy('importing the PostgreSQL store modules does not load pg: the file store never pays for it', () => {
  const modules = ['connect', 'schema', 'jobs'].map((name) => path.join(ROOT, 'src/store/postgres', `${name}.ts`));
  const probe = `
    import { createRequire } from 'node:module';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((key) => key.includes('/node_modules/pg/')).length;
    ${modules.map((file) => `await import(${JSON.stringify(file)});`).join('\n')}
    const before = loaded();
    await import(${JSON.stringify(path.join(ROOT, 'node_modules/pg/esm/index.mjs'))});
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, encoding: 'utf8' });
  assert.is(result.status, 0, result.stderr);
  const { before, after } = JSON.parse(result.stdout) as { before: number; after: number };
  assert.is(before, 0);
  assert.ok(after > 0, 'the probe can see pg once it is loaded');
});

lazy.run();
