/**
 * The clock commands and supervisors read. A test hook, QUEUECTL_TEST_CLOCK, makes it run fast
 * from a given time so that cron schedules can be tested without waiting minutes:
 * `ORIGIN_MS,FAKE_ISO,SPEED` reads FAKE_ISO at the real epoch time ORIGIN_MS and moves SPEED times
 * as fast as real time; every process given the same value agrees on the time. Not for production.
 */
export function clockFrom(env: NodeJS.ProcessEnv): () => Date {
  const spec = env.QUEUECTL_TEST_CLOCK;
  if (!spec) return () => new Date();
  const [origin, fake, speed] = spec.split(',');
  const originMs = Number(origin);
  const fakeMs = Date.parse(fake ?? '');
  const rate = Number(speed ?? 1);
  if (!Number.isFinite(originMs) || Number.isNaN(fakeMs) || !(rate > 0)) throw new Error(`QUEUECTL_TEST_CLOCK must be ORIGIN_MS,ISO_TIME,SPEED, got ${JSON.stringify(spec)}`);
  return () => new Date(fakeMs + (Date.now() - originMs) * rate);
}
