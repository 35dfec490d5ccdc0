/**
 * Cron expressions through croner (time zones and DST included). It is imported on first use:
 * only the schedule commands and a supervisor with a due schedule load it.
 */
import { invalid } from './error.ts';
import type { CronRules } from './schedule.ts';

type CronClass = typeof import('croner').Cron;

let loaded: Promise<CronRules> | null = null;

function rulesOf(Cron: CronClass): CronRules {
  // Building a pattern costs microseconds; schedules are few, so nothing is cached.
  const pattern = (cron: string, tz: string | null) => new Cron(cron, { timezone: tz ?? 'UTC', paused: true });
  return {
    next: (cron, tz, after) => pattern(cron, tz).nextRun(after),
    // previousRuns is strictly before its reference, which is read to the second: a run at `at` itself counts.
    latest: (cron, tz, at) => pattern(cron, tz).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null,
  };
}

export function loadCron(): Promise<CronRules> {
  loaded ??= import('croner').then(({ Cron }) => rulesOf(Cron));
  return loaded;
}

/** Checks a time zone name against the runtime's time zone database. */
export function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz;
  } catch {
    throw invalid(`unknown time zone "${tz}": use an IANA name such as UTC, Europe/Berlin or America/New_York`);
  }
}

/** Checks an expression; croner's message says which field is wrong. */
export async function checkCron(cron: string, tz: string | null): Promise<void> {
  const rules = await loadCron();
  try {
    rules.next(cron, tz, new Date());
  } catch (error) {
    throw invalid(`invalid cron expression "${cron}": ${(error as Error).message.replace(/^CronPattern: /, '').replace(/\.$/, '')}; for example "*/5 * * * *" (every five minutes) or "0 3 * * *" (03:00 every day)`);
  }
}
