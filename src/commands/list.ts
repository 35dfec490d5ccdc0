import { Option } from 'clipanion';
import { invalid } from '../error.ts';
import { byPriority, STATES, type State } from '../job.ts';
import { canonicalJob } from '../jobfile.ts';
import { readAllJobs, readJobs } from '../store.ts';
import { renderJobs } from '../view.ts';
import { QueueCommand } from './base.ts';

export function parseState(raw: string): State {
  if (!(STATES as readonly string[]).includes(raw)) throw invalid(`unknown state "${raw}"; expected one of ${STATES.join(', ')}`);
  return raw as State;
}

export function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw invalid(`--limit must be a whole number of at least 1, got "${raw}"`);
  return Number(raw);
}

export class ListCommand extends QueueCommand {
  static override paths = [['list'], ['ls']];
  static override usage = QueueCommand.Usage({
    description: 'list jobs, highest priority first, then oldest first',
    details: `
      States: pending, processing, completed, failed (waiting for a retry), dead (the DLQ) and
      cancelled. With \`--json\`, prints one JSON array of job objects and nothing else.
    `,
    examples: [
      ['List every job', '$0 list'],
      ['List pending jobs as JSON', '$0 list --state pending --json'],
      ['Show the first ten failed jobs', '$0 list --state failed --limit 10'],
    ],
  });

  state = Option.String('--state,-s', { description: 'only jobs in this state' });
  limit = Option.String('--limit,-n', { description: 'at most this many jobs' });
  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  async run() {
    const state = this.state === undefined ? undefined : parseState(this.state);
    const limit = parseLimit(this.limit);
    // Archived jobs are completed or cancelled: the archive is read only when those may be listed.
    const jobs = state === undefined || state === 'completed' || state === 'cancelled' ? readAllJobs(this.store) : readJobs(this.store).jobs;
    const selected = byPriority(state ? jobs.filter((job) => job.state === state) : jobs).slice(0, limit);
    if (this.asJson) return this.json(selected.map(canonicalJob));
    if (selected.length === 0) return this.out(state ? `no ${state} jobs` : 'no jobs');
    this.context.stdout.write(renderJobs(selected, this.context.now()));
  }
}
