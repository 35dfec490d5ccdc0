import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderMetrics, type MetricsSnapshot } from '../src/lifecycle/exposition.ts';
import { STATES, type State } from '../src/lifecycle/job.ts';

const render = suite('renderMetrics');

const zero = () => Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;

function snapshot(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    backend: 'file',
    queues: { default: { ...zero(), pending: 3 } },
    archived: { ...zero(), completed: 7 },
    lastHour: { completed: 4, failed: 1 },
    durations: [0.05, 0.5, 2, 4000],
    supervisors: [{ host: 'web-1', phase: 'running', workers: 3 }, { host: 'web-1', phase: 'draining', workers: 1 }],
    busy: { 'web-1': 2 },
    scheduleLag: { nightly: 12.5 },
    oldestDueSeconds: null,
    scrapeSeconds: 0.004,
    ...overrides,
  };
}

render('writes cumulative buckets, their sum and count', () => {
  const text = renderMetrics(snapshot());
  assert.match(text, /^queuectl_run_duration_seconds_bucket\{le="0\.1"\} 1$/m);
  assert.match(text, /^queuectl_run_duration_seconds_bucket\{le="1"\} 2$/m);
  assert.match(text, /^queuectl_run_duration_seconds_bucket\{le="3600"\} 3$/m);
  assert.match(text, /^queuectl_run_duration_seconds_bucket\{le="\+Inf"\} 4$/m);
  assert.match(text, /^queuectl_run_duration_seconds_sum 4002\.55$/m);
  assert.match(text, /^queuectl_run_duration_seconds_count 4$/m);
});

render('sums workers per host over its supervisors, and counts supervisors per phase', () => {
  const text = renderMetrics(snapshot());
  assert.match(text, /^queuectl_workers\{host="web-1"\} 4$/m);
  assert.match(text, /^queuectl_workers_busy\{host="web-1"\} 2$/m);
  assert.match(text, /^queuectl_supervisors\{host="web-1",phase="draining"\} 1$/m);
  assert.match(text, /^queuectl_supervisors\{host="web-1",phase="running"\} 1$/m);
  assert.match(text, /^queuectl_schedule_lag_seconds\{schedule="nightly"\} 12\.5$/m);
  assert.match(text, /^queuectl_jobs_archived\{state="completed"\} 7$/m);
});

render('escapes label values, and promtool accepts the result', () => {
  const text = renderMetrics(snapshot({ supervisors: [{ host: 'odd"host\\name\nx', phase: 'running', workers: 1 }], busy: {} }));
  assert.match(text, /queuectl_workers\{host="odd\\"host\\\\name\\nx"\} 1/);
  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((file) => fs.existsSync(file));
  if (!promtool) {
    process.stdout.write('skipped: promtool not found (install Debian\'s prometheus package)\n');
    return;
  }
  const checked = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.is(checked.status, 0, `${checked.stdout}${checked.stderr}`);
});

render.run();
