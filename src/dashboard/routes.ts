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
import { STATES, type State } from '../lifecycle/job.ts';
import { jobFields, runStart } from '../cli/jobview.ts';
import { logFile, readRuns } from '../supervisor/joblog.ts';
import { displayPath } from '../store/home.ts';
import type { JobQuery } from '../store/reads.ts';
import type { Store } from '../store/store.ts';
import { queuesInUse, readJobsPage, readOverview } from '../cli/summary.ts';
import type { Html } from './html.ts';
import { PAGE_SIZE } from './knobs.ts';
import { dlqPage, jobPage, jobsControls, jobsPage, overviewPage, type JobFilter } from './pages.ts';
import type { PageContext } from './layout.ts';
import { readLogTail } from './logtail.ts';

export interface View {
  title: string;
  nav: string;
  live: Html;
  controls?: Html;
}

async function overview(store: Store, ctx: PageContext): Promise<View> {
  return { title: 'Overview', nav: '/', live: overviewPage(ctx, await readOverview(store, ctx.now)) };
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
  const query: JobQuery = { states: filter.state === '' ? undefined : [filter.state], queue: filter.queue, text: filter.q, order: filter.order === 'newest' ? 'newest' : 'run' };
  const page = await readJobsPage(store, query, { offset: (filter.page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
  const total = await store.countMatching(query);
  const queues = queuesInUse((await store.countJobs()).queues, (await store.queueSettings()).queues).map((queue) => queue.name);
  return { title: 'Jobs', nav: '/jobs', live: jobsPage(ctx, filter, page, total), controls: jobsControls(filter, queues) };
}

async function job(store: Store, ctx: PageContext, id: string): Promise<View> {
  const [found] = await store.lookupJobs([id]);
  const dependencies = new Map((await store.lookupJobs(found!.after, { skipMissing: true })).map((dependency) => [dependency.id, dependency]));
  const fields = jobFields(found!, dependencies, ctx.now, displayPath(logFile(store.home, found!.id)), runStart(found!, () => readRuns(store.home, found!)));
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
