/**
 * Recurring jobs: a schedule is a cron expression and a job template, kept in jobs.json's
 * top-level `schedules` list. Each firing enqueues one job whose id names the schedule and the
 * firing time, in the same transaction that advances the schedule, so a firing happens once
 * however many supervisors look. Pure: the cron arithmetic is passed in (see cron.ts).
 */
import { invalid } from './error.ts';
import { createJob, type Job } from './job.ts';

/** What each firing's job gets: the options of `enqueue`, without id, time or dependencies. */
export interface JobTemplate {
  command: string;
  cwd: string;
  max_retries: number;
  priority: number;
  queue: string;
  timeout: string | null;
  no_retry_on: number[];
  env: Record<string, string>;
}

export interface Schedule {
  name: string;
  cron: string;
  /** An IANA time zone such as Europe/Berlin; null: UTC. */
  tz: string | null;
  job: JobTemplate;
  created_at: string;
  /** The cron time of the last firing (not when a supervisor noticed it); null before the first. */
  last_fired_at: string | null;
  /** The next cron time after the last firing (or after creation). */
  next_at: string;
}

/** The cron arithmetic, from a library loaded only where schedules are used. */
export interface CronRules {
  /** The first time strictly after `after`, or null if the expression never matches again. */
  next(cron: string, tz: string | null, after: Date): Date | null;
  /** The last time at or before `at`, or null. */
  latest(cron: string, tz: string | null, at: Date): Date | null;
}

export const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkScheduleName(name: string): string {
  if (!SCHEDULE_NAME.test(name)) throw invalid(`invalid schedule name ${JSON.stringify(name)}: use letters, digits and . _ - (at most 64, starting with a letter or digit)`);
  return name;
}

/** `nightly@20261201T030000Z`: the schedule and the firing time, so a firing cannot be enqueued twice. */
export function firingId(name: string, at: Date): string {
  return `${name}@${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`;
}

export function createSchedule(spec: { name: string; cron: string; tz: string | null; job: JobTemplate }, rules: CronRules, now: Date): Schedule {
  const next = rules.next(spec.cron, spec.tz, now);
  if (next === null) throw invalid(`the cron expression "${spec.cron}" never matches a future time; check its day and month fields`);
  return { ...spec, created_at: now.toISOString(), last_fired_at: null, next_at: next.toISOString() };
}

/** Whether a schedule's next firing has come: the cron library is not needed to tell. */
export function isScheduleDue(schedule: Schedule, now: Date): boolean {
  return Date.parse(schedule.next_at) <= now.getTime();
}

/** The earliest next firing of any schedule, in epoch ms, or null. */
export function nextFiringTime(schedules: readonly Schedule[] | undefined): number | null {
  const times = (schedules ?? []).map((schedule) => Date.parse(schedule.next_at));
  return times.length === 0 ? null : Math.min(...times);
}

/** What a broken schedule is remembered by: once a hand edit changes it, it is tried again. */
export function scheduleSpec(schedule: Schedule): string {
  return `${schedule.cron} ${schedule.tz}`;
}

/**
 * Fires every due schedule once: its job is enqueued for the latest cron time that has passed,
 * so firings missed while no supervisor ran give one catch-up run, not a burst; `next_at` moves
 * past `now`. A job with the firing's id already there is not added again.
 */
export function fireSchedules(schedules: readonly Schedule[], jobs: readonly Job[], rules: CronRules, now: Date): { schedules: Schedule[]; added: Job[]; broken: { name: string; error: string; spec: string }[] } {
  const ids = new Set(jobs.map((job) => job.id));
  const added: Job[] = [];
  const broken: { name: string; error: string; spec: string }[] = [];
  const next = schedules.map((schedule) => {
    if (!isScheduleDue(schedule, now)) return schedule;
    let firing: Date;
    let following: Date | null;
    try {
      firing = rules.latest(schedule.cron, schedule.tz, now) ?? new Date(schedule.next_at);
      following = rules.next(schedule.cron, schedule.tz, now);
    } catch (error) {
      // A hand edit broke the expression or the zone: that schedule waits for a fix, the others fire.
      broken.push({ name: schedule.name, error: (error as Error).message, spec: scheduleSpec(schedule) });
      return schedule;
    }
    const id = firingId(schedule.name, firing);
    if (!ids.has(id)) {
      ids.add(id);
      added.push(createJob({ ...schedule.job, id, run_at: now, after: [], schedule: schedule.name }, now));
    }
    // An expression that never matches again gets a next_at far away rather than firing on every turn.
    return { ...schedule, last_fired_at: firing.toISOString(), next_at: (following ?? new Date(8.64e15)).toISOString() };
  });
  return { schedules: next, added, broken };
}
