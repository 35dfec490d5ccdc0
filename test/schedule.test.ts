import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadCron } from '../src/lifecycle/cron.ts';
import { createJob, type Job } from '../src/lifecycle/job.ts';
import { createSchedule, fireSchedules, firingId, isScheduleDue, nextFiringTime, type JobTemplate } from '../src/lifecycle/schedule.ts';

const template: JobTemplate = { command: 'true', cwd: '/w', max_retries: 3, priority: 0, queue: 'default', timeout: null, no_retry_on: [], env: {} };
const t = (iso: string) => new Date(iso);

// ---

const firing = suite('fireSchedules');

firing('a minute schedule fires once per minute, with ids naming the firing time', async () => {
  const rules = await loadCron();
  let schedules = [createSchedule({ name: 'tick', cron: '* * * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:30Z'))];
  assert.is(schedules[0]!.next_at, '2030-01-01T00:01:00.000Z');
  const jobs: Job[] = [];
  // A supervisor looks every 20 s for three minutes.
  for (let second = 40; second <= 220; second += 20) {
    const now = new Date(Date.parse('2030-01-01T00:00:00Z') + second * 1000);
    const fired = fireSchedules(schedules, jobs, rules, now);
    schedules = fired.schedules;
    jobs.push(...fired.added);
  }
  assert.equal(jobs.map((job) => job.id), ['tick@20300101T000100Z', 'tick@20300101T000200Z', 'tick@20300101T000300Z']);
  assert.equal(jobs.map((job) => job.schedule), ['tick', 'tick', 'tick']);
  assert.is(schedules[0]!.last_fired_at, '2030-01-01T00:03:00.000Z');
  assert.is(schedules[0]!.next_at, '2030-01-01T00:04:00.000Z');
});

firing('firings missed while nothing ran give one catch-up run, for the latest of them', async () => {
  const rules = await loadCron();
  const schedules = [createSchedule({ name: 'tick', cron: '*/5 * * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z'))];
  const { added, schedules: after } = fireSchedules(schedules, [], rules, t('2030-01-01T03:07:00Z'));
  assert.equal(added.map((job) => job.id), ['tick@20300101T030500Z']);
  assert.is(added[0]!.run_at, '2030-01-01T03:07:00.000Z', 'due at once');
  assert.is(after[0]!.next_at, '2030-01-01T03:10:00.000Z');
  assert.equal(fireSchedules(after, added, rules, t('2030-01-01T03:08:00Z')).added, [], 'nothing more until the next firing');
});

firing('a firing whose job id already exists is not enqueued twice, and the schedule still moves on', async () => {
  const rules = await loadCron();
  const schedules = [createSchedule({ name: 'tick', cron: '* * * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z'))];
  const existing = createJob({ ...template, id: 'tick@20300101T000100Z', run_at: t('2030-01-01T00:01:00Z') }, t('2030-01-01T00:01:00Z'));
  const { added, schedules: after } = fireSchedules(schedules, [existing], rules, t('2030-01-01T00:01:10Z'));
  assert.equal(added, []);
  assert.is(after[0]!.next_at, '2030-01-01T00:02:00.000Z');
});

firing('the new job carries the template: queue, priority, environment', async () => {
  const rules = await loadCron();
  const schedules = [createSchedule({ name: 'gpu', cron: '0 * * * *', tz: null, job: { ...template, queue: 'gpu', priority: 4, env: { A: '1' } } }, rules, t('2030-01-01T00:30:00Z'))];
  const [job] = fireSchedules(schedules, [], rules, t('2030-01-01T01:00:00Z')).added;
  assert.equal([job?.queue, job?.priority, job?.env, job?.after], ['gpu', 4, { A: '1' }, []]);
});

firing('a schedule whose hand-edited expression cannot be read is left as it is, and the others still fire', async () => {
  const rules = await loadCron();
  const good = createSchedule({ name: 'good', cron: '* * * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z'));
  const bad = { ...good, name: 'bad', cron: '99 * * * *' };
  const { added, schedules, broken } = fireSchedules([bad, good], [], rules, t('2030-01-01T00:01:00Z'));
  assert.equal(added.map((job) => job.id), ['good@20300101T000100Z']);
  assert.equal(schedules[0], bad);
  assert.equal(broken.map((entry) => entry.name), ['bad']);
});

firing.run();

// ---

const zones = suite('time zones and daylight saving');

zones('a daily 02:30 in Europe/Berlin moves in UTC across the change, and the skipped hour fires once', async () => {
  const rules = await loadCron();
  // Clocks go from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day.
  let schedule = createSchedule({ name: 'n', cron: '30 2 * * *', tz: 'Europe/Berlin', job: template }, rules, t('2026-03-27T12:00:00Z'));
  const seen: string[] = [];
  for (let day = 0; day < 4; day++) {
    const now = new Date(Date.parse(schedule.next_at) + 1000);
    const fired = fireSchedules([schedule], [], rules, now);
    seen.push(fired.schedules[0]!.last_fired_at!);
    schedule = fired.schedules[0]!;
  }
  assert.equal(seen, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
});

zones.run();

// ---

const helpers = suite('schedule helpers');

helpers('isScheduleDue and nextFiringTime read next_at only: no cron library needed', async () => {
  const rules = await loadCron();
  const a = createSchedule({ name: 'a', cron: '0 3 * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z'));
  const b = createSchedule({ name: 'b', cron: '0 1 * * *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z'));
  assert.is(nextFiringTime([a, b]), Date.parse('2030-01-01T01:00:00Z'));
  assert.is(nextFiringTime(undefined), null);
  assert.not.ok(isScheduleDue(b, t('2030-01-01T00:59:59Z')));
  assert.ok(isScheduleDue(b, t('2030-01-01T01:00:00Z')));
});

helpers('firingId names the schedule and the second, as a valid job id', () => {
  assert.is(firingId('nightly', t('2026-12-01T03:00:00.000Z')), 'nightly@20261201T030000Z');
});

helpers('an expression that never matches is refused', async () => {
  const rules = await loadCron();
  assert.throws(() => createSchedule({ name: 'x', cron: '0 0 31 2 *', tz: null, job: template }, rules, t('2030-01-01T00:00:00Z')), /never matches/);
});

helpers.run();
