/**
 * A private, throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temp directory,
 * listening on a free port of 127.0.0.1 and on a socket in that directory, tuned for speed
 * (nothing is fsynced: a crash loses the cluster, which is thrown away anyway). As root it runs as
 * the `postgres` OS user, because the server refuses to run as root. Never leave a server
 * running: `stop()` is synchronous (it works from an 'exit' handler), and a watchdog process stops
 * the server and removes its directory if the test process dies without doing so (SIGKILL).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PostgresServer {
  /** The maintenance database `postgres` as superuser `postgres` (password PASSWORD), by TCP on 127.0.0.1. */
  url: string;
  port: number;
  /** The temp directory holding the cluster (`data/`), its log and its socket. */
  dir: string;
  /**
   * A new database on this server, and its URL: a clean slate for one test. Empty, or a copy of
   * `template` (a database nobody is connected to, see run-server.ts).
   */
  createDatabase(options?: { template?: string }): Promise<string>;
  /** Stops the server at once and removes its directory; calling it again does nothing. */
  stop(): void;
  /** `pg_ctl restart -m MODE`: every session is cut off; resolves once it accepts connections again. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
}

/**
 * The server test/run.mjs starts once for the whole run (run-server.ts), described in the test
 * processes' environment as JSON (`url`, `port`, `dir`, `template`). The name does not reach
 * queuectl's own processes: cli.ts's cleanEnv drops every QUEUECTL_ variable.
 */
export const RUN_SERVER_VARIABLE = 'QUEUECTL_TEST_POSTGRES';

export interface RunServer {
  server: PostgresServer;
  /** The database every scenario's database is copied from, with queuectl's schema in place. */
  template: string;
}

/**
 * The run's server as this test process sees it, or null outside test/run.mjs. It belongs to the
 * run: `stop()` leaves it running, and `restart()` refuses, since other files use it at the same
 * time (a test that restarts its server starts one of its own).
 */
export function runServer(env: NodeJS.ProcessEnv = process.env): RunServer | null {
  const described = env[RUN_SERVER_VARIABLE];
  if (!described) return null;
  const { url, port, dir, template } = JSON.parse(described) as { url: string; port: number; dir: string; template: string };
  const restart = () => Promise.reject(new Error(`the run's PostgreSQL server (${RUN_SERVER_VARIABLE}) is shared by every test file: a test that restarts its server starts its own with startPostgres()`));
  return { template, server: { url, port, dir, stop: () => undefined, restart, createDatabase: databaseMaker(url, port) } };
}

export interface StartOptions {
  /**
   * Addresses to listen on beside 127.0.0.1 (the root side of simulated hosts, see netns.ts),
   * and the subnets (CIDR) allowed to log in from them with the password.
   */
  listen?: { addresses: readonly string[]; subnets: readonly string[] };
}

/** `url` (one of this server's) with its host replaced: the same database as seen from elsewhere. */
export function urlAt(url: string, address: string): string {
  const parsed = new URL(url);
  parsed.hostname = address;
  return parsed.toString();
}

export const BINARIES = ['initdb', 'pg_ctl', 'postgres'];

/** The password of the superuser `postgres` on every throwaway server. */
export const PASSWORD = 'throwaway';

function hasServerBinaries(dir: string): boolean {
  return BINARIES.every((name) => fs.existsSync(path.join(dir, name)));
}

/** The directory holding initdb, pg_ctl and postgres, or null when no server is installed. */
export function findServerBinaries(): string | null {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // No pg_config (or only libpq's, whose bindir has no server): try the other places.
  }
  // Debian installs each major version beside the others; the newest wins.
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => path.join(debian, version, 'bin')));
  }
  candidates.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean));
  return candidates.find(hasServerBinaries) ?? null;
}

const asRoot = process.getuid?.() === 0;

/** Runs a server binary, as the `postgres` user when we are root. */
function runServerTool(bin: string, tool: string, args: string[]): void {
  const command = asRoot ? 'runuser' : path.join(bin, tool);
  const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`${tool} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}${result.stderr}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Speed over durability, and small enough for several clusters on a shared test machine.
const SETTINGS = [
  'fsync = off',
  'synchronous_commit = off',
  'full_page_writes = off',
  'max_connections = 60',
  'shared_buffers = 16MB',
  "log_min_messages = 'warning'",
];

/**
 * Stops the cluster in `dir` and removes `dir` once process `pid` is gone. It polls, because a
 * process killed with SIGKILL runs no handler of its own.
 */
function startWatchdog(bin: string, dir: string, pid: number): number | undefined {
  const stop = `${asRoot ? 'runuser -u postgres -- ' : ''}"${path.join(bin, 'pg_ctl')}" stop -D "${dir}/data" -m immediate`;
  const script = `while kill -0 ${pid} 2>/dev/null; do sleep 1; done; ${stop} >/dev/null 2>&1; rm -rf "${dir}"`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid;
}

/** Starts a server in a fresh temp directory; throws if no server binaries are installed. */
export async function startPostgres({ listen }: StartOptions = {}): Promise<PostgresServer> {
  const bin = findServerBinaries();
  if (bin === null) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl, postgres) are installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queuectl-pg-'));
  const watchdog = startWatchdog(bin, dir, process.pid);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (fs.existsSync(path.join(dir, 'data', 'postmaster.pid'))) {
      try {
        runServerTool(bin, 'pg_ctl', ['stop', '-D', path.join(dir, 'data'), '-m', 'immediate', '-w']);
      } catch {
        // Already down: nothing to stop.
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (watchdog !== undefined) {
      try {
        process.kill(watchdog, 'SIGKILL');
      } catch {
        // It noticed first.
      }
    }
  };
  try {
    if (asRoot) fs.chownSync(dir, userId('postgres'), groupId('postgres'));
    const data = path.join(dir, 'data');
    // TCP logins need the password, as on a real server; the socket (pg_ctl's) needs none.
    const passwordFile = path.join(dir, 'password');
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
    runServerTool(bin, 'initdb', ['-D', data, '-U', 'postgres', `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    fs.rmSync(passwordFile);
    if (listen) {
      const lines = listen.subnets.map((subnet) => `host all all ${subnet} scram-sha-256`);
      fs.appendFileSync(path.join(data, 'pg_hba.conf'), `${lines.join('\n')}\n`);
    }
    const addresses = ['127.0.0.1', ...(listen?.addresses ?? [])].join(',');
    // A port found free may be taken before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      fs.writeFileSync(path.join(data, 'postgresql.auto.conf'), [...SETTINGS, `listen_addresses = '${addresses}'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, ''].join('\n'));
      try {
        runServerTool(bin, 'pg_ctl', ['start', '-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60']);
      } catch (error) {
        if (attempt < 3 && /could not bind|address already in use/i.test(readLog(dir))) continue;
        throw new Error(`${(error as Error).message}\n--- server log:\n${readLog(dir)}`);
      }
      const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
      const restart = (mode: 'fast' | 'immediate' = 'fast') => restartServer(bin, data, mode, dir);
      return { url, port, dir, stop, restart, createDatabase: databaseMaker(url, port) };
    }
  } catch (error) {
    stop();
    throw error;
  }
}

/** Asynchronous, so that a test's own timers and children go on while the server is down. */
function restartServer(bin: string, data: string, mode: string, dir: string): Promise<void> {
  const args = ['restart', '-D', data, '-m', mode, '-l', path.join(dir, 'server.log'), '-w', '-t', '60'];
  const child = asRoot ? spawn('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' }) : spawn(path.join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}\n--- server log:\n${readLog(dir)}`))));
  });
}

function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'server.log'), 'utf8');
  } catch {
    return '';
  }
}

function userId(name: string): number {
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

function groupId(name: string): number {
  return Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
}

function databaseMaker(url: string, port: number): PostgresServer['createDatabase'] {
  let count = 0;
  return async ({ template } = {}) => {
    // Several test processes create databases on the run's server at once: the pid, then the
    // count in four digits, so that no two processes' names meet, and the name stays test_<digits>.
    const name = `test_${process.pid}${String(++count).padStart(4, '0')}`;
    const { Client } = await import('pg');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      // Copying the template's files beats WAL-logging them block by block (500 ms to 150 ms
      // here) when nothing is fsynced; the choice exists from PostgreSQL 15.
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      const strategy = Number(version.rows[0]?.server_version_num) >= 150000 ? ' STRATEGY = FILE_COPY' : '';
      await client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}${strategy}`);
    } finally {
      await client.end();
    }
    return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${name}`;
  };
}
