import { Option } from 'clipanion';
import { invalid } from '../../lifecycle/error.ts';
import { STATES, type State } from '../../lifecycle/job.ts';
import type { JobQuery } from '../../store/reads.ts';
import { JsonArrayWriter } from '../json-array.ts';
import { readJobsPage } from '../summary.ts';
import { renderJobs } from '../view.ts';
import { QueueCommand } from './base.ts';

export function parseState(raw: string): State {
  if (!(STATES as readonly string[]).includes(raw)) throw invalid(`unknown state "${raw}"; expected one of ${STATES.join(', ')}`);
  return raw as State;
}

/** One state or several, comma-separated: `failed,dead`. */
export function parseStates(raw: string): State[] {
  return [...new Set(raw.split(',').map((word) => parseState(word.trim())))];
}

export function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw invalid(`--limit must be a whole number of at least 1, got "${raw}"`);
  return Number(raw);
}

export class ListCommand extends QueueCommand {
  static override paths = [['list'], ['ls']];
  static override usage = QueueCommand.Usage({
    description: 'list jobs, highest priority first, then oldest first; or the latest changes first',
    details: `
      States: pending, processing, completed, failed (waiting for a retry), dead (the DLQ) and
      cancelled; \`--state\` takes one or several, comma-separated.

      Jobs are listed in the order they would run: highest priority first, then oldest first.
      \`--recent\` lists them by their last change instead, latest first: what happened lately.
      \`--limit N\` keeps the first N of the list as ordered, so with \`--recent\` the N latest.

      With \`--json\`, prints one JSON array of job objects, in the same order, and nothing else.
    `,
    examples: [
      ['List every job', '$0 list'],
      ['List pending jobs as JSON', '$0 list --state pending --json'],
      ['Show the ten jobs that failed or died most recently', '$0 list --state failed,dead --recent --limit 10'],
      ['Show the next five jobs to run', '$0 list --state pending --limit 5'],
    ],
  });

  state = Option.String('--state,-s', { description: 'only jobs in these states, comma-separated: failed,dead' });
  recent = Option.Boolean('--recent,-r', false, { description: 'latest change first (by updated_at), instead of the run order' });
  limit = Option.String('--limit,-n', { description: 'only the first N jobs of the list, as ordered' });
  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  async run() {
    const states = this.state === undefined ? undefined : parseStates(this.state);
    const limit = parseLimit(this.limit);
    const query: JobQuery = { states, order: this.recent ? 'recent' : 'run' };
    if (this.asJson) {
      // Written as read: a deep queue's list is never one string in memory.
      const array = new JsonArrayWriter(this.context.stdout);
      await this.store.streamJobs(query, limit, (jobs) => array.add(jobs));
      return array.end();
    }
    const { jobs, dependencies } = await readJobsPage(this.store, query, { offset: 0, limit });
    if (jobs.length === 0) return this.out(states ? `no ${states.join(' or ')} jobs` : 'no jobs');
    this.context.stdout.write(renderJobs(jobs, this.context.now(), dependencies));
  }
}
