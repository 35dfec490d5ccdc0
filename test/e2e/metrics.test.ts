import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, cleanEnv } from '../support/cli.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const metrics = suite('metrics: the Prometheus text format');

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((file) => fs.existsSync(file)) ?? null;

/** `promtool check metrics` on the text: its exit status and what it said. */
function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function assertValid(text: string, where: string): void {
  const checked = promtool(text);
  assert.is(checked.status, 0, `promtool check metrics refused ${where}: ${checked.output}\n${text}`);
  assert.is(checked.output.trim(), '', `promtool has no complaint about ${where}`);
}

/** The value of one sample, by its exact name and labels. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  assert.ok(line, `no sample ${series} in:\n${text}`);
  return Number(line!.slice(series.length + 1));
}

interface Served {
  get(path: string, host?: string): Promise<{ status: number; type: string; body: string }>;
  stop(): Promise<void>;
}

/** `queuectl dashboard` on this sandbox's store (the file or its database). */
async function serve(s: Sandbox, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'dashboard', '--port', '0', ...args], { cwd: s.dir, env: cleanEnv(s.env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const url = new URL(await waitFor(() => /^http:\/\/\S+/m.exec(stdout)?.[0], { timeout: 15_000, what: `the dashboard's URL (stderr: ${stderr})` }));
  return {
    get: (path, host = url.host) =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: url.port, path, headers: { Host: host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
        }).on('error', reject);
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

/** A queue with something in every metric: finished runs both ways, a job running, two queues, a schedule. */
async function busyQueue(s: Sandbox): Promise<void> {
  const gate = s.path('gate');
  s.ok('enqueue', '--id', 'ok', '--', 'true');
  s.ok('enqueue', '--id', 'bad', '--max-retries', '1', '--', 'exit 3');
  s.ok('enqueue', '--id', 'later', '--queue', 'gpu', '--delay', '1h', '--', 'true');
  s.ok('schedule', 'add', 'nightly', '--cron', '0 3 * * *', '--', 'true');
  await s.start(2);
  await s.waitJobs((jobs) => jobs.find((job) => job.id === 'ok')?.state === 'completed' && jobs.find((job) => job.id === 'bad')?.state === 'dead', 'the first jobs to finish');
  s.ok('enqueue', '--id', 'slow', '--', `while [ ! -e '${gate}' ]; do sleep 0.05; done`);
  await s.waitJob('slow', (job) => job.state === 'processing', 'to run');
}

function assertFigures(text: string): void {
  const host = os.hostname();
  assert.is(sample(text, 'queuectl_up'), 1);
  assert.is(sample(text, 'queuectl_jobs{queue="default",state="completed"}'), 1);
  assert.is(sample(text, 'queuectl_jobs{queue="default",state="dead"}'), 1);
  assert.is(sample(text, 'queuectl_jobs{queue="default",state="processing"}'), 1);
  assert.is(sample(text, 'queuectl_jobs{queue="gpu",state="pending"}'), 1);
  assert.is(sample(text, 'queuectl_runs_last_hour{result="completed"}'), 1);
  assert.is(sample(text, 'queuectl_runs_last_hour{result="failed"}'), 1);
  assert.is(sample(text, 'queuectl_run_duration_seconds_count'), 2);
  assert.is(sample(text, 'queuectl_run_duration_seconds_bucket{le="+Inf"}'), 2);
  assert.is(sample(text, `queuectl_supervisors{host="${host}",phase="running"}`), 1);
  assert.is(sample(text, `queuectl_workers{host="${host}"}`), 2);
  assert.is(sample(text, `queuectl_workers_busy{host="${host}"}`), 1);
  assert.is(sample(text, 'queuectl_schedule_lag_seconds{schedule="nightly"}'), 0);
}

if (PROMTOOL === null) {
  process.stdout.write('skipped: promtool not found (install Debian\'s prometheus package): the metrics are validated by it, not by hand\n');
  metrics.skip('metrics --prometheus and GET /metrics pass promtool check metrics', () => undefined);
} else {
  scenario(metrics, 'metrics --prometheus prints what the store holds, and promtool check metrics accepts it', async (s) => {
    await busyQueue(s);
    const text = s.ok('metrics', '--prometheus');
    assertValid(text, 'queuectl metrics --prometheus');
    assertFigures(text);
    const file = s.path('textfile', 'queuectl.prom');
    fs.mkdirSync(s.path('textfile'));
    assert.is(s.ok('metrics', '--prometheus', '--output', file), '');
    assertValid(fs.readFileSync(file, 'utf8'), '--output');
    assert.equal(fs.readdirSync(s.path('textfile')), ['queuectl.prom'], 'no temporary file left beside it');
    const plain = s.q('metrics');
    assert.is(plain.status, 2);
    assert.match(plain.stderr, /give --prometheus/);
  });

  scenario(metrics, 'GET /metrics serves the same in format 0.0.4, also with --read-only, behind the Host check', async (s) => {
    await busyQueue(s);
    for (const args of [[], ['--read-only']]) {
      const dashboard = await serve(s, ...args);
      try {
        const reply = await dashboard.get('/metrics');
        assert.is(reply.status, 200, `${args.join(' ')}: ${reply.body}`);
        assert.ok(reply.type.startsWith('text/plain; version=0.0.4'), reply.type);
        assertValid(reply.body, `GET /metrics ${args.join(' ')}`);
        assertFigures(reply.body);
        const names = (text: string) => text.split('\n').filter((line) => line.startsWith('# TYPE')).join('\n');
        assert.is(names(reply.body), names(s.ok('metrics', '--prometheus')), 'the same families as the CLI');
        assert.is((await dashboard.get('/metrics', 'evil.example')).status, 421, 'a foreign Host is refused');
      } finally {
        await dashboard.stop();
      }
    }
  });
}

metrics.run();
