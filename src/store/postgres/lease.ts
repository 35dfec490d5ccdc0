/**
 * The lease lines on PostgreSQL. A supervisor renews its heartbeat and its claims' leases every
 * `renewMs`; a claim whose lease has run out may be recovered by any supervisor. A supervisor's
 * workers kill their running job once no renewal has succeeded for `fenceMs`, well before the
 * lease can run out, so that a recovered job never runs beside its old run; a run's processes
 * die with it within about a second.
 *
 * Worst case from a SIGKILLed supervisor to the re-run on another host: the lease (10 s) after
 * its last renewal, plus one recovery poll (1 s), plus a turn.
 */
import { parseDuration } from '../../lifecycle/duration.ts';
import { invalid } from '../../lifecycle/error.ts';

export interface LeaseSettings {
  seconds: number;
  renewMs: number;
  fenceMs: number;
}

const DEFAULT_LEASE_MS = 10_000;

/** QUEUECTL_LEASE (a duration, at least 2s) sets the lease; renewal and fence follow from it. */
export function leaseSettings(env: NodeJS.ProcessEnv): LeaseSettings {
  const raw = env.QUEUECTL_LEASE?.trim();
  const ms = raw ? parseDuration(raw) : DEFAULT_LEASE_MS;
  if (!(ms >= 2_000)) throw invalid(`QUEUECTL_LEASE must be a duration of at least 2s, got "${raw}"`);
  return { seconds: ms / 1000, renewMs: ms / 5, fenceMs: ms * 0.6 };
}
