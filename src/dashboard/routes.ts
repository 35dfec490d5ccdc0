/**
 * What each path shows or does. Reads are lock-free snapshots, as for `status` and `list`;
 * actions are the operations the CLI's commands call (src/operations/), so locks, validation
 * and refusals are the CLI's own.
 */
import { cancelJobs } from '../operations/cancel.ts';
import { removeExpired } from '../operations/clean.ts';
import { restartJobs } from '../operations/restart.ts';
import { retryDeadJobs } from '../operations/retry.ts';
import { invalid } from '../lifecycle/error.ts';
import { byPriority, findJob, isDue, STATES, type Job, type State } from '../lifecycle/job.ts';
import { jobFields } from '../cli/jobview.ts';
import { logFile } from '../supervisor/joblog.ts';
import { displayPath } from '../store/home.ts';
import { perMinute } from '../cli/metrics.ts';
import type { Store } from '../store/store.ts';
import { summarize } from '../cli/summary.ts';
import { queueNames, summarizeQueues } from '../lifecycle/queue.ts';
import type { Html } from './html.ts';
import { dlqPage, jobPage, jobsControls, jobsPage, overviewPage, PAGE_SIZE, type JobFilter } from './pages.ts';
import type { PageContext } from './layout.ts';
import { readLogTail } from './logtail.ts';

export interface View {
  title: string;
  nav: string;
  live: Html;
  controls?: Html;
}

async function overview(store: Store, ctx: PageContext): Promise<View> {
  const { jobs, archived, queues: settings } = await store.readJobs();
  const summary = summarize(jobs, archived, await store.supervisors(), await store.lostClaims(jobs));
  const queues = summarizeQueues(jobs, settings, STATES);
  const waiting = jobs.filter((job) => job.state === 'pending' || job.state === 'failed');
  const due = byPriority(waiting.filter((job) => isDue(job, ctx.now)));
  const nextDue = due[0] ?? [...waiting].sort((a, b) => a.run_at.localeCompare(b.run_at))[0] ?? null;
  return { title: 'Overview', nav: '/', live: overviewPage(ctx, { summary, queues, minutes: perMinute(jobs, ctx.now), nextDue }) };
}

export function parseFilter(params: URLSearchParams): JobFilter {
  const state = params.get('state') ?? '';
  if (state !== '' && !(STATES as readonly string[]).includes(state)) throw invalid(`unknown state "${state}"; expected one of ${STATES.join(', ')}`);
  const order = params.get('order') ?? 'run';
  if (order !== 'run' && order !== 'newest') throw invalid(`order must be run or newest, got "${order}"`);
  const page = params.get('page') ?? '1';
  if (!/^[1-9]\d{0,6}$/.test(page)) throw invalid(`page must be a whole number from 1, got "${page}"`);
  return { state: state as State | '', queue: (params.get('queue') ?? '').trim(), q: (params.get('q') ?? '').trim(), order, page: Number(page) };
}

async function jobs(store: Store, ctx: PageContext, params: URLSearchParams): Promise<View> {
  const filter = parseFilter(params);
  // Archived jobs are completed or cancelled: the archive is read only when those may be shown.
  const archivable = filter.state === '' || filter.state === 'completed' || filter.state === 'cancelled';
  const doc = await store.readJobs();
  const all = archivable ? await store.readAllJobs() : doc.jobs;
  const needle = filter.q.toLowerCase();
  const matching = all.filter(
    (job) =>
      (filter.state === '' || job.state === filter.state) &&
      (filter.queue === '' || job.queue === filter.queue) &&
      (needle === '' || job.id.toLowerCase().includes(needle) || job.command.toLowerCase().includes(needle)),
  );
  const ordered = filter.order === 'newest' ? [...matching].reverse() : byPriority(matching);
  const shown = ordered.slice((filter.page - 1) * PAGE_SIZE, filter.page * PAGE_SIZE);
  return { title: 'Jobs', nav: '/jobs', live: jobsPage(ctx, filter, shown, matching.length), controls: jobsControls(filter, queueNames(doc.jobs, doc.queues)) };
}

async function job(store: Store, ctx: PageContext, id: string): Promise<View> {
  const [found] = await store.lookupJobs([id]);
  const dependencies = new Map((await store.lookupJobs(found!.after, { skipMissing: true })).map((dependency) => [dependency.id, dependency]));
  const fields = jobFields(found!, dependencies, ctx.now, displayPath(logFile(store.home, found!.id)));
  return { title: `Job ${found!.id}`, nav: '/jobs', live: jobPage(ctx, found!, fields, readLogTail(store.home, found!)) };
}

async function dlq(store: Store, ctx: PageContext): Promise<View> {
  const dead = (await store.readJobs()).jobs.filter((candidate) => candidate.state === 'dead');
  return { title: 'Dead letter queue', nav: '/dlq', live: dlqPage(ctx, dead) };
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid(`"${raw}" is not a well-formed job address`);
  }
}

/** The page at `path`, or null if there is none. */
export async function view(store: Store, ctx: PageContext, path: string, params: URLSearchParams): Promise<View | null> {
  if (path === '/') return overview(store, ctx);
  if (path === '/jobs') return jobs(store, ctx, params);
  if (path === '/dlq') return dlq(store, ctx);
  const match = /^\/jobs\/([^/]+)$/.exec(path);
  if (match) return job(store, ctx, decodeId(match[1] as string));
  return null;
}

function requiredId(fields: URLSearchParams): string {
  const id = fields.get('id');
  if (!id) throw invalid('the action needs the id of a job');
  return id;
}

/** Carries out the action at `path`; returns what to tell the user, or null if there is none. */
export async function act(store: Store, path: string, fields: URLSearchParams, warn: (line: string) => void): Promise<string | null> {
  switch (path) {
    case '/actions/retry': {
      const [id] = await retryDeadJobs(store, [requiredId(fields)]);
      return `retrying ${id}`;
    }
    case '/actions/retry-all': {
      const ids = await retryDeadJobs(store, 'all');
      return ids.length === 0 ? 'the dead letter queue is empty: nothing to retry' : `retrying ${ids.length} job${ids.length === 1 ? '' : 's'}`;
    }
    case '/actions/purge': {
      const count = await removeExpired(store, ['dead'], undefined);
      return `purged ${count} dead job${count === 1 ? '' : 's'}`;
    }
    case '/actions/restart': {
      const [id] = await restartJobs(store, [requiredId(fields)]);
      return `restarted ${id}`;
    }
    case '/actions/cancel': {
      const id = requiredId(fields);
      await cancelJobs(store, [id], warn);
      return `cancelled ${id}`;
    }
    default:
      return null;
  }
}
