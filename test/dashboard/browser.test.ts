import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startDashboard } from '../support/dashboard.ts';
import { chromiumPath, launchBrowser } from '../support/browser.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const browser = suite('dashboard in a real browser');
if (!chromiumPath) process.stdout.write('SKIPPED: no Chromium installed (apt-get install chromium); the browser tests do not run\n');
const test = (chromiumPath ? browser : browser.skip) as typeof browser;

/** Screenshots stay beside the test's temp directories, for a person to look at. */
const ARTIFACTS = path.join(process.env.TMPDIR ?? '/tmp', 'queuectl-dashboard-screenshots');

scenario(test, 'shows a job enqueued by the CLI without a reload, keeps a half-typed filter, and retries a dead job by a click', async (s) => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  s.enqueue({ id: 'doomed', command: 'echo "about to fail"; exit 3', max_retries: 1 });
  const supervisor = await s.start(1);
  await s.waitJob('doomed', (job) => job.state === 'dead', 'to die');
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitExit();

  const dashboard = await startDashboard(s);
  const chrome = await launchBrowser(s.path('chrome-profile'));
  try {
    const page = await chrome.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });

    await page.goto(dashboard.url.href);
    assert.is(await page.textContent('[data-state="dead"] b'), '1');
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });

    await page.goto(new URL('/jobs', dashboard.url).href);
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    await page.fill('input[name="q"]', 'half-typ');
    s.enqueue({ id: 'fresh', command: 'echo fresh', run_at: '2099-01-01T00:00:00Z' });
    await page.waitForSelector('tr[data-job="fresh"]', { timeout: 5_000 });
    assert.ok(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), 'the page was updated in place, not reloaded');
    assert.is(await page.inputValue('input[name="q"]'), 'half-typ', 'the half-typed filter survives the update');
    await page.screenshot({ path: path.join(ARTIFACTS, 'jobs.png'), fullPage: true });

    await page.goto(new URL('/jobs/doomed', dashboard.url).href);
    assert.match(String(await page.textContent('pre.log')), 'about to fail');
    await page.screenshot({ path: path.join(ARTIFACTS, 'job.png'), fullPage: true });

    await page.goto(new URL('/dlq', dashboard.url).href);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dlq.png'), fullPage: true });
    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await page.click('tr[data-job="doomed"] button:has-text("Retry")');
    await page.waitForSelector('.flash');
    const flash = String(await page.textContent('.flash'));
    assert.match(flash, 'retrying doomed', flash);
    await waitFor(() => s.job('doomed').state === 'pending', { what: 'the job to be pending again' });
    assert.is(s.job('doomed').attempts, 0);

    s.enqueue({ id: 'doomed-2', command: 'exit 3', max_retries: 1 });
    const again = await s.start(1);
    await s.waitJobs((jobs) => jobs.filter((job) => job.state === 'dead').length === 2, 'both jobs to die');
    again.signalGroup('SIGTERM');
    await again.waitExit();
    await page.goto(new URL('/dlq', dashboard.url).href);
    await page.click('button:has-text("Purge all")');
    await page.waitForSelector('.flash');
    assert.equal(asked, ['Delete all 2 dead jobs and their logs for good?'], 'purge asks first');
    await waitFor(() => s.jobs().every((job) => job.state !== 'dead'), { what: 'the dead jobs to be purged' });
    assert.equal(errors, [], 'no script or CSP errors');
  } finally {
    await chrome.close();
    await dashboard.stop();
  }
});

browser.run();
