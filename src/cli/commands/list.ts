import { Option } from 'clipanion';
import { invalid } from '../../lifecycle/error.ts';
import { byPriority, STATES, type State } from '../../lifecycle/job.ts';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { latestFirst, renderJobs } from '../view.ts';
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
    // Archived jobs are completed or cancelled: the archive is read only when those may be listed.
    const archived = !states || states.includes('completed') || states.includes('cancelled');
    const jobs = archived ? (await this.store.readAllJobs()) : (await this.store.readJobs()).jobs;
    const chosen = states ? jobs.filter((job) => states.includes(job.state)) : jobs;
    const selected = (this.recent ? latestFirst(chosen) : byPriority(chosen)).slice(0, limit);
    if (this.asJson) return this.json(selected.map(fullJob));
    if (selected.length === 0) return this.out(states ? `no ${states.join(' or ')} jobs` : 'no jobs');
    this.context.stdout.write(renderJobs(selected, this.context.now(), jobs));
  }
}
