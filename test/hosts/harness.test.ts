import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { ROOT } from '../support/cli.ts';
import { hostsSuite, hostUrl } from '../support/hosts.ts';
import { namespaces, type Host, type Hosts } from '../support/netns.ts';
import { isAlive } from '../support/supervisor-proc.ts';
import { waitFor } from '../support/wait.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'netns-child.ts');

/** The connect timeout of a probe: a cut link must make it fail within this, not hang. */
const CONNECT_TIMEOUT_MS = 2_000;

// The pg driver from this project's node_modules (node -e resolves from the cwd), by TCP.
const PROBE = `
const { Client } = require('pg');
const client = new Client({ connectionString: process.env.URL, connectionTimeoutMillis: ${CONNECT_TIMEOUT_MS} });
client.connect()
  .then(() => client.query('select 1 as one, host(inet_client_addr()) as client'))
  .then((result) => { process.stdout.write(JSON.stringify(result.rows[0])); return client.end(); })
  .catch((error) => { process.stderr.write(String(error.message)); process.exit(1); });
`;

interface Probe {
  ok: boolean;
  row: { one: number; client: string } | null;
  error: string;
  ms: number;
}

function probe(hosts: Hosts, host: Host, url: string): Probe {
  const started = Date.now();
  const result = hosts.spawnSync(host, process.execPath, ['-e', PROBE], { cwd: ROOT, env: { ...process.env, URL: url }, timeout: 30_000 });
  const ms = Date.now() - started;
  return { ok: result.status === 0, row: result.status === 0 ? JSON.parse(result.stdout) : null, error: `${result.stderr}${result.error?.message ?? ''}`, ms };
}

function hostnameOn(hosts: Hosts, host: Host): string {
  return hosts.spawnSync(host, process.execPath, ['-e', 'process.stdout.write(require("os").hostname())']).stdout;
}

// ---

const hosts = hostsSuite('simulated hosts');

hosts('each have a hostname of their own', ({ hosts }) => {
  const [a, b] = hosts.hosts as [Host, Host];
  assert.is(hostnameOn(hosts, a), 'host-a');
  assert.is(hostnameOn(hosts, b), 'host-b');
  assert.is.not(os.hostname(), 'host-a', 'the test process keeps the machine\'s hostname');
});

hosts('reach PostgreSQL over their own link', ({ hosts, server }) => {
  const url = hostUrl(server.url, hosts);
  for (const host of hosts.hosts) {
    const result = probe(hosts, host, url);
    assert.ok(result.ok, `${host.name} connects: ${result.error}`);
    assert.is(result.row?.one, 1);
    assert.is(result.row?.client, host.address, `the server sees ${host.name} at its own address`);
  }
});

hosts('lose PostgreSQL while their link is cut, and only they do', ({ hosts, server }) => {
  const url = hostUrl(server.url, hosts);
  const [a, b] = hosts.hosts as [Host, Host];
  hosts.cut(a);
  try {
    const cut = probe(hosts, a, url);
    assert.not.ok(cut.ok, 'host-a cannot connect while cut');
    assert.match(cut.error, /timeout/i, 'the packets vanish: the connect times out');
    assert.ok(cut.ms < CONNECT_TIMEOUT_MS + 5_000, `bounded by the connect timeout (${cut.ms} ms)`);
    assert.ok(probe(hosts, b, url).ok, 'host-b still connects');
  } finally {
    hosts.restore(a);
  }
  const restored = probe(hosts, a, url);
  assert.ok(restored.ok, `host-a connects again after restore: ${restored.error}`);
});

hosts.run();

// ---

interface Left {
  namespaces: string[];
  ports: string[];
  sleeps: number[];
}

function runChild(mode: 'exit' | 'kill'): { status: number | null; signal: NodeJS.Signals | null; left: Left } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode], { encoding: 'utf8', timeout: 60_000 });
  const line = /\{"namespaces".*\}/.exec(result.stdout)?.[0];
  assert.ok(line, `the child printed its hosts:\n${result.stdout}${result.stderr}`);
  return { status: result.status, signal: result.signal, left: JSON.parse(line) };
}

function linkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
}

function gone(left: Left): boolean {
  const listed = namespaces();
  return left.namespaces.every((ns) => !listed.includes(ns)) && left.ports.every((port) => !linkExists(port)) && left.sleeps.every((pid) => !isAlive(pid));
}

const cleanup = hostsSuite('cleanup of simulated hosts');

cleanup('removes them when the test process exits', () => {
  const child = runChild('exit');
  assert.is(child.status, 0);
  assert.is(child.left.namespaces.length, 2);
  assert.ok(gone(child.left), `no namespace, link or process left: ${namespaces().join(', ')}`);
});

cleanup('removes them when the test process is killed', async () => {
  const child = runChild('kill');
  assert.is(child.signal, 'SIGKILL');
  await waitFor(() => gone(child.left), { timeout: 15_000, what: `the watchdog to remove ${child.left.namespaces.join(', ')}` });
});

cleanup.run();
