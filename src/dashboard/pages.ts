/** The dashboard's pages as pure functions: data in, HTML out. */
import { formatDuration } from '../lifecycle/duration.ts';
import { FINISHED_STATES, runsOf, STATES, type Job, type State } from '../lifecycle/job.ts';
import { fullJob } from '../lifecycle/jobfile/keys.ts';
import type { Window } from '../cli/metrics.ts';
import type { QueueSummary } from '../lifecycle/queue.ts';
import type { Summary, SupervisorSummary } from '../cli/summary.ts';
import { relativeTime } from '../lifecycle/duration.ts';
import { minuteChart } from './chart.ts';
import { html, query, type Html } from './html.ts';
import { actionButton, stateBadge, type PageContext } from './layout.ts';

export interface Overview {
  summary: Summary;
  queues: QueueSummary[];
  minutes: Window[];
  nextDue: Job | null;
}

const jobHref = (id: string) => `/jobs/${encodeURIComponent(id)}`;

function when(iso: string | null, now: Date): Html {
  return iso ? html`<time datetime="${iso}" title="${iso}">${relativeTime(iso, now)}</time>` : html`<span class="muted">-</span>`;
}

export function overviewPage(ctx: PageContext, data: Overview): Html {
  const { counts, total, supervisors, waiting } = data.summary;
  return html`<h1>Overview</h1>
<div class="cards">${STATES.map((state) => html`<a class="card" href="/jobs${query({ state })}" data-state="${state}"><b>${counts[state]}</b>${state}</a>`)}<div class="card"><b>${total}</b>total</div></div>
${queuesTable(data.queues)}
<h2>Runs per minute, last hour</h2>
${minuteChart(data.minutes)}
<p class="muted">${nextLine(ctx, data.nextDue)}</p>
<h2>Supervisors</h2>
${supervisors.length === 0 ? html`<p>No supervisor is running. Start one with <code>queuectl worker start</code>.</p>` : supervisors.map((supervisor) => supervisorBlock(ctx, supervisor))}
${waiting.length === 0 ? '' : html`<h2>Waiting for recovery</h2><p>Processing, but their supervisor is gone: they run again once a supervisor recovers them.</p>
<table><thead><tr><th>Job</th><th>Supervisor</th><th>Started</th><th>Command</th></tr></thead><tbody>
${waiting.map((job) => html`<tr><td><a href="${jobHref(job.job)}">${job.job}</a></td><td>${job.owner_pid ?? '-'} (gone)</td><td>${when(job.started_at, ctx.now)}</td><td><code>${job.command}</code></td></tr>`)}
</tbody></table>`}`;
}

/** Shown once queues are in use: more than the default one, or a limit or a pause. */
function queuesTable(queues: readonly QueueSummary[]): Html {
  if (queues.length <= 1 && !queues.some((queue) => queue.paused || queue.parallel !== null)) return html``;
  return html`<h2>Queues</h2><table><thead><tr><th>Queue</th><th>Waiting</th><th>Running</th><th>Completed</th><th>Dead</th><th>At most</th><th></th></tr></thead><tbody>
${queues.map((queue) => html`<tr data-queue="${queue.name}"><td><a href="/jobs${query({ queue: queue.name })}">${queue.name}</a></td><td class="num">${queue.counts.pending + queue.counts.failed}</td><td class="num">${queue.counts.processing}</td><td class="num">${queue.counts.completed}</td><td class="num">${queue.counts.dead}</td><td class="num">${queue.parallel ?? '-'}</td><td>${queue.paused ? html`<span class="badge">paused</span>` : ''}</td></tr>`)}
</tbody></table>`;
}

function nextLine(ctx: PageContext, next: Job | null): Html {
  if (!next) return html`No job is waiting.`;
  const link = html`<a href="${jobHref(next.id)}">${next.id}</a>`;
  if (Date.parse(next.run_at) > ctx.now.getTime()) return html`Next due: ${link} ${when(next.run_at, ctx.now)}`;
  return html`Next to start: ${link}, due since ${when(next.run_at, ctx.now)}`;
}

function supervisorBlock(ctx: PageContext, supervisor: SupervisorSummary): Html {
  const byWorker = new Map(supervisor.running.map((run) => [run.worker, run]));
  const phase = supervisor.phase === 'running' ? '' : html` <span class="badge">${supervisor.phase}</span>`;
  return html`<h3>Supervisor ${supervisor.pid} on ${supervisor.host}${phase} <span class="muted">· ${supervisor.workers} worker${supervisor.workers === 1 ? '' : 's'} · up since ${when(supervisor.started_at, ctx.now)}</span></h3>
<table><thead><tr><th>Worker</th><th>Job</th><th>Run</th><th>Started</th><th>Command</th></tr></thead><tbody>
${Array.from({ length: supervisor.workers }, (_, index) => {
  const run = byWorker.get(index + 1);
  return run
    ? html`<tr><td>${index + 1}</td><td><a href="${jobHref(run.job)}">${run.job}</a></td><td>${run.run} of ${run.runs}</td><td>${when(run.started_at, ctx.now)}</td><td><code>${run.command}</code></td></tr>`
    : html`<tr><td>${index + 1}</td><td class="muted" colspan="4">idle</td></tr>`;
})}
</tbody></table>`;
}

export interface JobFilter {
  state: State | '';
  queue: string;
  q: string;
  order: 'run' | 'newest';
  page: number;
}

export const PAGE_SIZE = 50;

export function jobsControls(filter: JobFilter, queues: readonly string[]): Html {
  return html`<form class="controls" method="get" action="/jobs" role="search">
<label>State <select name="state"><option value="">any</option>${STATES.map((state) => html`<option${state === filter.state ? html` selected` : ''}>${state}</option>`)}</select></label>
<label>Queue <select name="queue"><option value="">any</option>${queues.map((queue) => html`<option${queue === filter.queue ? html` selected` : ''}>${queue}</option>`)}</select></label>
<label>Search <input type="search" name="q" value="${filter.q}" placeholder="id or command"></label>
<label>Order <select name="order"><option value="run"${filter.order === 'run' ? html` selected` : ''}>run order</option><option value="newest"${filter.order === 'newest' ? html` selected` : ''}>newest first</option></select></label>
<button type="submit">Filter</button></form>`;
}

export function jobsPage(ctx: PageContext, filter: JobFilter, jobs: readonly Job[], total: number): Html {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const link = (page: number) => `/jobs${query({ state: filter.state, queue: filter.queue, q: filter.q, order: filter.order === 'run' ? undefined : filter.order, page: page === 1 ? undefined : page })}`;
  return html`<h1>Jobs <span class="muted">· ${total} found</span></h1>
${jobs.length === 0 ? html`<p>No jobs match.</p>` : jobTable(ctx, jobs)}
<nav class="pager" aria-label="pages">${filter.page > 1 ? html`<a href="${link(filter.page - 1)}" rel="prev">← previous</a>` : ''}<span>page ${filter.page} of ${pages}</span>${filter.page < pages ? html`<a href="${link(filter.page + 1)}" rel="next">next →</a>` : ''}</nav>`;
}

function jobTable(ctx: PageContext, jobs: readonly Job[], actions?: (job: Job) => Html): Html {
  return html`<table><thead><tr><th>ID</th><th>State</th><th>Queue</th><th>Runs</th><th>Priority</th><th>When</th><th>Command</th><th>Last error</th>${actions ? html`<th></th>` : ''}</tr></thead><tbody>
${jobs.map((job) => html`<tr data-job="${job.id}"><td><a href="${jobHref(job.id)}">${job.id}</a></td><td>${stateBadge(job.state)}</td><td>${job.queue}</td><td class="num">${runsOf(job)}</td><td class="num">${job.priority}</td><td>${when(job.state === 'processing' ? job.started_at : job.updated_at, ctx.now)}</td><td><code>${job.command}</code></td><td>${job.last_error ?? ''}</td>${actions ? html`<td>${actions(job)}</td>` : ''}</tr>`)}
</tbody></table>`;
}

export function jobPage(ctx: PageContext, job: Job, log: { text: string; truncated: boolean } | null): Html {
  const fields = Object.entries(fullJob(job)).filter(([key]) => key !== 'history');
  const finished = FINISHED_STATES.includes(job.state);
  return html`<h1>Job <code>${job.id}</code> ${stateBadge(job.state)}</h1>
<p>${job.state === 'dead' ? actionButton(ctx, 'retry', 'Retry', { id: job.id }) : ''}${finished && job.state !== 'dead' ? actionButton(ctx, 'restart', 'Restart', { id: job.id }) : ''}${!finished ? actionButton(ctx, 'cancel', 'Cancel', { id: job.id }, `Cancel job ${job.id}?`) : ''}</p>
<dl class="fields">${fields.map(([key, value]) => html`<dt>${key}</dt><dd>${typeof value === 'string' ? value : JSON.stringify(value)}</dd>`)}</dl>
<h2>Runs</h2>
${job.history.length === 0 ? html`<p class="muted">No runs yet.</p>` : html`<table><thead><tr><th>Run</th><th>Started</th><th>Took</th><th>Outcome</th><th>Exit</th><th>Error</th></tr></thead><tbody>
${job.history.map((run, index) => html`<tr><td>${index + 1}</td><td>${when(run.started_at, ctx.now)}</td><td>${formatDuration(run.duration_ms)}</td><td>${run.outcome}</td><td>${run.exit_code ?? run.signal ?? '-'}</td><td>${run.error ?? ''}</td></tr>`)}
</tbody></table>`}
<h2>Log${job.state === 'processing' ? html` <span class="muted">(following)</span>` : ''}</h2>
${log === null ? html`<p class="muted">No output yet.</p>` : html`${log.truncated ? html`<p class="muted">Only the end of the log is shown.</p>` : ''}<pre class="log">${log.text}</pre>`}`;
}

export function dlqPage(ctx: PageContext, dead: readonly Job[]): Html {
  return html`<h1>Dead letter queue <span class="muted">· ${dead.length} dead</span></h1>
${dead.length === 0 ? html`<p>The dead letter queue is empty.</p>` : html`<p>${actionButton(ctx, 'retry-all', 'Retry all', {}, `Retry all ${dead.length} dead jobs?`)} ${actionButton(ctx, 'purge', 'Purge all', {}, `Delete all ${dead.length} dead jobs and their logs for good?`)}</p>
${jobTable(ctx, dead, (job) => actionButton(ctx, 'retry', 'Retry', { id: job.id }))}`}`;
}

export function errorPage(status: number, message: string): Html {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status} · queuectl</title><link rel="stylesheet" href="/app.css"></head>
<body><main><h1>${status}</h1><p class="flash error" role="alert">${message}</p><p><a href="/">Back to the overview</a></p></main></body></html>
`;
}
