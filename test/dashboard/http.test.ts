import fs from 'node:fs';
import http from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { startDashboard, type DashboardProcess } from '../support/dashboard.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** Runs jobs that fail once with one run allowed, so they end dead. */
async function deadJobs(s: Sandbox, ...ids: string[]): Promise<void> {
  s.enqueue(...ids.map((id) => ({ id, command: 'echo failing; exit 3', max_retries: 1 })));
  const supervisor = await s.start(1);
  await s.waitJobs((jobs) => ids.every((id) => jobs.find((job) => job.id === id)?.state === 'dead'), 'the jobs to die');
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitExit();
}

async function withDashboard(s: Sandbox, args: string[], body: (d: DashboardProcess) => Promise<void>): Promise<void> {
  const dashboard = await startDashboard(s, ...args);
  try {
    await body(dashboard);
  } finally {
    await dashboard.stop();
  }
}

// ---

const pages = suite('dashboard: pages');

scenario(pages, 'serves the overview, jobs, one job and the DLQ, with the security headers on each', async (s) => {
  s.enqueue({ id: 'one', command: 'echo one' }, { id: 'two', command: 'sleep 1', priority: 5 });
  await withDashboard(s, [], async (d) => {
    for (const path of ['/', '/jobs', '/jobs/one', '/dlq', '/app.css', '/app.js']) {
      const reply = await d.request(path);
      assert.is(reply.status, 200, path);
      assert.match(String(reply.headers['content-security-policy']), "script-src 'self'", path);
      assert.is(reply.headers['x-content-type-options'], 'nosniff', path);
      assert.is(reply.headers['cache-control'], 'no-store', path);
    }
    const overview = await d.request('/');
    assert.match(overview.body, /<b>2<\/b>pending/);
    assert.match(overview.body, 'No supervisor is running');
    const jobs = await d.request('/jobs');
    assert.ok(jobs.body.indexOf('data-job="two"') < jobs.body.indexOf('data-job="one"'), 'run order: higher priority first');
    const job = await d.request('/jobs/one');
    assert.match(job.body, '<code>one</code>');
    assert.match(job.body, 'echo one');
  });
});

scenario(pages, 'filters by state and text, orders newest first and pages through many jobs', async (s) => {
  s.enqueue(...Array.from({ length: 120 }, (_, i) => ({ id: `job-${String(i).padStart(3, '0')}`, command: i % 2 ? 'echo odd' : 'echo even' })));
  s.enqueue({ id: 'later', command: 'sleep 100', run_at: '2099-01-01T00:00:00Z' });
  await withDashboard(s, [], async (d) => {
    const rows = (body: string) => [...body.matchAll(/data-job="([^"]+)"/g)].map((match) => match[1]);
    const first = await d.request('/jobs');
    assert.match(first.body, '121 found');
    assert.is(rows(first.body).length, 50);
    assert.is(rows((await d.request('/jobs?page=3')).body).length, 21);
    assert.equal(rows((await d.request('/jobs?order=newest')).body).slice(0, 2), ['later', 'job-119']);
    assert.is(rows((await d.request('/jobs?q=ODD')).body).length, 50, 'search ignores case');
    assert.match((await d.request('/jobs?q=odd')).body, '60 found');
    assert.match((await d.request('/jobs?state=completed')).body, 'No jobs match');
    assert.is((await d.request('/jobs?state=bogus')).status, 400);
    assert.is((await d.request('/jobs?page=0')).status, 400);
  });
});

scenario(pages, 'shows queues with their limits and pauses, and filters jobs by queue', async (s) => {
  s.ok('queue', 'set', 'gpu', '--parallel', '1');
  s.ok('queue', 'pause', 'gpu');
  s.enqueue({ id: 'train', command: 'true', queue: 'gpu' }, { id: 'lint', command: 'true' });
  await withDashboard(s, [], async (d) => {
    const overview = (await d.request('/')).body;
    assert.match(overview, /<tr data-queue="gpu"><td><a href="\/jobs\?queue=gpu">gpu<\/a><\/td><td class="num">1<\/td>.*<td class="num">1<\/td><td><span class="badge">paused<\/span><\/td><\/tr>/);
    assert.match(overview, 'data-queue="default"');
    const filtered = (await d.request('/jobs?queue=gpu')).body;
    assert.match(filtered, 'data-job="train"');
    assert.not.match(filtered, 'data-job="lint"');
    assert.match(filtered, '<option selected>gpu</option>');
  });
});

scenario(pages, 'escapes everything that comes from a job', async (s) => {
  s.enqueue({ id: 'x', command: '<script>alert("pwned")</script><img src=x onerror=alert(1)>' });
  await withDashboard(s, [], async (d) => {
    for (const path of ['/jobs', '/jobs/x', '/jobs?q=%3Cscript%3E']) {
      const { body } = await d.request(path);
      assert.not.match(body, '<script>alert', path);
      assert.not.match(body, '<img src=x', path);
      assert.match(body, '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;', path);
    }
  });
});

scenario(pages, 'answers an unknown job or page with 404 and another method with 405', async (s) => {
  await withDashboard(s, [], async (d) => {
    assert.is((await d.request('/jobs/nope')).status, 404);
    assert.match((await d.request('/jobs/nope')).body, 'no job with id');
    assert.is((await d.request('/nowhere')).status, 404);
    assert.is((await d.request('/jobs/%E0%A4%A')).status, 400, 'a malformed address is bad input, not a bug');
    assert.is((await d.request('/', { method: 'PUT' })).status, 405);
  });
});

scenario(pages, 'shows archived jobs, and those archived while it runs', async (s) => {
  s.ok('config', 'set', 'keep-finished', '0');
  const supervisor = await s.start(1);
  const archived = (id: string) => () => fs.existsSync(s.path('.queuectl', 'archive.jsonl')) && !s.jobs().some((job) => job.id === id);
  // With nothing kept, finished jobs leave jobs.json as soon as a second one has finished.
  s.enqueue({ id: 'first', command: 'true' }, { id: 'second', command: 'true' });
  await waitFor(archived('second'), { what: 'the first two to be archived' });
  await withDashboard(s, [], async (d) => {
    assert.match((await d.request('/jobs?state=completed')).body, 'data-job="first"');
    assert.match((await d.request('/jobs/first')).body, '<code>first</code>');
    s.enqueue({ id: 'third', command: 'true' }, { id: 'fourth', command: 'true' });
    await waitFor(archived('fourth'), { what: 'the next two to be archived' });
    const after = await d.request('/jobs');
    for (const id of ['first', 'second', 'third', 'fourth']) assert.match(after.body, `data-job="${id}"`);
    assert.match((await d.request('/jobs/third')).body, '<code>third</code>');
  });
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitExit();
});

scenario(pages, 'the overview shows what each worker runs, a draining supervisor, and jobs waiting for recovery', async (s) => {
  const go = s.path('go');
  s.enqueue({ id: 'long', command: `touch '${s.path('started')}'; while [ ! -e '${go}' ]; do sleep 0.05; done` });
  const first = await s.start(1);
  await waitFor(() => fs.existsSync(s.path('started')), { what: 'the job to start' });
  await withDashboard(s, [], async (d) => {
    const running = (await d.request('/')).body;
    assert.match(running, `Supervisor ${first.pid} on`);
    assert.match(running, /<td>1<\/td><td><a href="\/jobs\/long">long<\/a><\/td><td>1 of 3<\/td>/);
    assert.not.match(running, 'draining');
    process.kill(first.pid, 'SIGTERM');
    await first.waitLog(/SIGTERM: draining/);
    assert.match((await d.request('/')).body, '<span class="badge">draining</span>');
    first.signalGroup('SIGKILL');
    await first.waitExit();
    const stranded = (await d.request('/')).body;
    assert.match(stranded, 'Waiting for recovery');
    assert.match(stranded, `<td>${first.pid} (gone)</td>`);
    assert.match(stranded, 'No supervisor is running');
  });
});

pages.run();

// ---

const jobPage = suite('dashboard: a job page');

/** What a browser shows of some markup: tags dropped, entities decoded. */
const textOf = (markup: string) =>
  markup.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const logOf = (page: string) => textOf(/<pre class="log">([\s\S]*?)<\/pre>/.exec(page)?.[1] ?? '');
/** A time as `show` prints it, without the part relative to now, which moves between two reads. */
const absolute = (value: string) => value.replace(/ \((?:now|in [^()]+|[^()]+ ago)\)$/, '');

scenario(jobPage, 'shows the fields and runs as show prints them and the log as logs prints it: no raw markers, no null or []', async (s) => {
  const marker = s.path('failed-once');
  s.ok('config', 'set', 'backoff-base', '1');
  s.enqueue({ id: 'flaky', command: `echo "try <1> & more"; test -e '${marker}' || { touch '${marker}'; exit 3; }; echo done`, max_retries: 2 });
  const supervisor = await s.start(1);
  await s.waitJob('flaky', (job) => job.state === 'completed', 'to complete on its second run');
  await withDashboard(s, [], async (d) => {
    const overview = (await d.request('/')).body;
    assert.match(overview, /· started <time[^>]*>[^<]* ago<\/time>/, 'a supervisor says when it started');
    assert.not.match(overview, 'up since');
    supervisor.signalGroup('SIGTERM');
    await supervisor.waitExit();

    const page = (await d.request('/jobs/flaky')).body;
    assert.not.match(page, '--- queuectl:', 'no raw log markers');
    assert.is(`${logOf(page)}\n`, s.ok('logs', 'flaky'), 'the log reads as logs prints it');
    assert.match(logOf(page), /^=== run 1 · attempt 1 · started \S+ · exit code 3, took/);

    const fields = [...page.matchAll(/<dt>([^<]*)<\/dt><dd>([^<]*)<\/dd>/g)].map((match) => [textOf(match[1]!), absolute(textOf(match[2]!))]);
    const shown = s.ok('show', 'flaky').split('\n\n')[0]!.split('\n').map((line) => /^([^:]+(?: [^:]+)?):\s+(.*)$/.exec(line)!.slice(1, 3).map(String)).map(([name, value]) => [name!, absolute(value!)]);
    assert.equal(fields, shown, 'the same fields, in the same order, with the same values');
    for (const raw of ['<dd>[]</dd>', '<dd>null</dd>', '<dd>{}</dd>']) assert.not.match(page, raw);
    assert.ok(fields.some(([name, value]) => name === 'after' && value === '-') && fields.some(([name, value]) => name === 'running on' && value === '-'));

    const history = s.job('flaky').history;
    const rows = [...page.matchAll(/<tr>((?:<td>[^<]*<\/td>){7})<\/tr>/g)].map((match) => [...match[1]!.matchAll(/<td>([^<]*)<\/td>/g)].map((cell) => textOf(cell[1]!)));
    assert.equal(rows.map((row) => [row[0], row[1], row[3], row[4]]), [['1', history[0]!.started_at, history[0]!.outcome, '3'], ['2', history[1]!.started_at, history[1]!.outcome, '0']]);
    assert.match(page, '<th>Run</th><th>Started</th><th>Took</th><th>Outcome</th><th>Exit</th><th>Next</th><th>Error</th>');
  });
});

scenario(jobPage, 'a log longer than the page shows ends as logs ends, its last run under the header and number logs gives it', async (s) => {
  const marker = s.path('second');
  s.enqueue({ id: 'chatty', command: `if [ -e '${marker}' ]; then yes line | head -n 40000; echo the end; else echo first run; touch '${marker}'; fi` });
  const supervisor = await s.start(1);
  await s.waitJob('chatty', (job) => job.state === 'completed', 'to complete');
  s.ok('restart', 'chatty');
  await s.waitJob('chatty', (job) => job.state === 'completed' && job.history.length === 2, 'to complete again');
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitExit();
  await withDashboard(s, [], async (d) => {
    const page = (await d.request('/jobs/chatty')).body;
    assert.match(page, 'Only the end of the log is shown');
    const shown = logOf(page);
    const printed = s.ok('logs', 'chatty');
    const header = printed.split('\n').find((line) => line.startsWith('=== run 2 '))!;
    assert.match(header, /^=== run 2 · attempt 1 · started \S+ · exit code 0, took/);
    assert.is(shown.split('\n')[0], header, 'the run that began before the end keeps its header and its number');
    assert.ok(`${shown}\n`.length < 70 * 1024 && printed.endsWith(`${shown.split('\n').slice(1).join('\n')}\n`), 'the rest is the end of what logs prints');
    assert.match(shown, /line\nthe end$/);
    assert.not.match(shown, 'first run');
  });
});

jobPage.run();

// ---

const guard = suite('dashboard: refusals');

scenario(guard, 'refuses a Host that is not this server (DNS rebinding) and changes nothing', async (s) => {
  await deadJobs(s, 'd');
  await withDashboard(s, [], async (d) => {
    const token = await d.token();
    assert.is((await d.request('/', { headers: { Host: 'evil.example:80' } })).status, 421);
    const post = await d.request('/actions/retry', { headers: { Host: `evil.example:${d.url.port}` }, form: { _token: token, id: 'd' } });
    assert.is(post.status, 421);
    assert.is(s.job('d').state, 'dead');
  });
});

scenario(guard, 'refuses changes without the form token, from another site, by GET, and on a read-only dashboard', async (s) => {
  await deadJobs(s, 'd');
  await withDashboard(s, [], async (d) => {
    const token = await d.token();
    assert.is((await d.request('/actions/retry', { form: { id: 'd' } })).status, 403, 'no token');
    assert.is((await d.request('/actions/retry', { form: { id: 'd', _token: 'guess' } })).status, 403, 'wrong token');
    assert.is((await d.request('/actions/retry', { form: { id: 'd', _token: token }, headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 403, 'cross-site');
    assert.is((await d.request('/actions/retry', { form: { id: 'd', _token: token }, headers: { Origin: 'http://evil.example' } })).status, 403, 'other origin');
    assert.is((await d.request('/actions/retry?id=d')).status, 404, 'GET');
    assert.is((await d.request('/actions/retry', { method: 'POST', headers: { 'Content-Type': 'application/json' } })).status, 415);
    assert.is(s.job('d').state, 'dead');
  });
  await withDashboard(s, ['--read-only'], async (d) => {
    const page = await d.request('/dlq');
    assert.not.match(page.body, '<form class="inline" method="post"', 'no buttons on a read-only dashboard');
    assert.match(page.body, 'read-only');
    const refused = await d.request('/actions/retry-all', { form: { _token: 'any' } });
    assert.is(refused.status, 403);
    assert.match(refused.body, 'read-only');
    assert.is(s.job('d').state, 'dead');
  });
});

scenario(guard, 'off loopback, every request needs the access token printed with the URL', async (s) => {
  await withDashboard(s, ['--host', '0.0.0.0'], async (d) => {
    const token = d.url.searchParams.get('token');
    assert.ok(token, `the printed URL carries a token: ${d.url}`);
    const headers = { Host: `127.0.0.1:${d.url.port}` };
    assert.is((await d.request('/', { headers })).status, 401);
    assert.is((await d.request('/?token=wrong', { headers })).status, 401);
    const signIn = await d.request(`/jobs?token=${token}`, { headers });
    assert.is(signIn.status, 303);
    assert.is(signIn.headers.location, '/jobs', 'the token leaves the address bar');
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string;
    assert.match(String(signIn.headers['set-cookie']), 'HttpOnly');
    assert.is((await d.request('/', { headers: { ...headers, Cookie: cookie } })).status, 200);
  });
});

guard.run();

// ---

const actions = suite('dashboard: actions');

scenario(actions, 'retries one dead job or all, cancels and restarts through the store, and says what it did', async (s) => {
  await deadJobs(s, 'a', 'b', 'c');
  s.enqueue({ id: 'later', command: 'true', run_at: '2099-01-01T00:00:00Z' });
  await withDashboard(s, [], async (d) => {
    const token = await d.token();
    const retried = await d.request('/actions/retry', { form: { _token: token, id: 'a', back: '/dlq' } });
    assert.is(retried.status, 303);
    assert.match(String(retried.headers.location), /^\/dlq\?done=/);
    assert.is(s.job('a').state, 'pending');
    assert.is(s.job('a').attempts, 0);
    assert.match((await d.request(String(retried.headers.location))).body, 'retrying a');

    const conflict = await d.request('/actions/retry', { form: { _token: token, id: 'a' } });
    assert.is(conflict.status, 409, 'a job that is not dead');
    assert.match(conflict.body, 'not dead');
    assert.is((await d.request('/actions/retry', { form: { _token: token, id: 'ghost' } })).status, 404);

    const offsite = await d.request('/actions/cancel', { form: { _token: token, id: 'later', back: '//evil.example/' } });
    assert.is(offsite.status, 303);
    assert.match(String(offsite.headers.location), /^\/\?done=/, 'never sent to another site');
    assert.is(s.job('later').state, 'cancelled');
    assert.match((await d.request('/jobs/later')).body, 'action="/actions/restart"', 'a finished job offers a restart');
    assert.is((await d.request('/actions/restart', { form: { _token: token, id: 'later' } })).status, 303);
    assert.is(s.job('later').state, 'pending');
    assert.is((await d.request('/actions/restart', { form: { _token: token, id: 'later' } })).status, 409, 'a pending job cannot be restarted');

    const all = await d.request('/actions/retry-all', { form: { _token: token, back: '/dlq' } });
    assert.match((await d.request(String(all.headers.location))).body, 'retrying 2 jobs');
    assert.equal(s.jobs().map((job: Job) => `${job.id} ${job.state}`).sort(), ['a pending', 'b pending', 'c pending', 'later pending']);
    assert.is((await d.request('/actions/purge', { form: { _token: token } })).status, 303, 'purging an empty DLQ is no error');
    assert.is(s.jobs().length, 4);
  });
});

actions.run();

// ---

const live = suite('dashboard: live updates');

scenario(live, 'the event stream fires after an enqueue from another process', async (s) => {
  await withDashboard(s, [], async (d) => {
    let received = '';
    const request = http.get({ host: '127.0.0.1', port: d.url.port, path: '/events', headers: { Host: d.url.host } }, (response) => {
      assert.is(response.headers['content-type'], 'text/event-stream; charset=utf-8');
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (received += chunk));
    });
    try {
      await waitFor(() => received.includes('event: hello'), { what: 'the stream to open' });
      assert.not.match(received, 'event: change');
      s.enqueue({ id: 'new', command: 'true' });
      await waitFor(() => received.includes('event: change'), { timeout: 5_000, what: 'a change event' });
      const fragment = await d.request('/jobs', { headers: { 'X-Queuectl-Live': '1' } });
      assert.match(fragment.body, 'data-job="new"');
      assert.not.match(fragment.body, '<html', 'only the live part');
    } finally {
      request.destroy();
    }
  });
});

live.run();
