/**
 * Supervisors on PostgreSQL: one row each in `queuectl_supervisors`, renewed with the leases of
 * their claims (see lease.ts); stop requests as flags on those rows plus a notification; lost
 * claims as expired leases, or on this host owners that /proc says are gone.
 */
import type { PoolClient } from 'pg';
import type { Job } from '../../lifecycle/job.ts';
import { HOST, isRunning } from '../../system/proc.ts';
import type { Phase, Registration, StopRequest, SupervisorRecord } from '../store.ts';
import { supervisorId, type Database } from './database.ts';
import { decodeJob } from './jobs.ts';
import type { LeaseSettings } from './lease.ts';
import { CHANGES_CHANNEL, STOP_PAYLOAD } from './listen.ts';

interface SupervisorRow {
  host: string;
  pid: number;
  started: string;
  started_at: Date;
  heartbeat_at: Date;
  count: number;
  cwd: string;
  phase: Phase;
}

export class Registry {
  constructor(
    private readonly db: Database,
    private readonly lease: LeaseSettings,
  ) {}

  async register(record: SupervisorRecord): Promise<Registration> {
    const id = supervisorId(record);
    const upsert = async (client: PoolClient, phase: Phase) => {
      // Rows of supervisors whose lease ran out long ago are cleared by whoever registers next.
      await client.query(`DELETE FROM queuectl_supervisors WHERE lease_until < now() - interval '1 hour'`);
      await client.query(
        `INSERT INTO queuectl_supervisors (id, host, pid, started, count, cwd, phase, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
         ON CONFLICT (id) DO UPDATE SET phase = EXCLUDED.phase, heartbeat_at = now(), lease_until = EXCLUDED.lease_until`,
        [id, record.host, record.pid, record.started, record.count, record.cwd, phase, this.lease.seconds],
      );
    };
    await this.db.withClient((client) => upsert(client, record.phase ?? 'running'));
    let gone = false;
    let renewing: Promise<unknown> = Promise.resolve();
    return {
      renewEveryMs: this.lease.renewMs,
      fenceMs: this.lease.fenceMs,
      renew: (phase: Phase) => {
        if (gone) return Promise.resolve({ stop: null });
        const renewal = this.db.withClient(async (client) => {
          const result = await client.query<{ stop_requested: boolean; stop_force: boolean; now: Date }>(
            `UPDATE queuectl_supervisors SET phase = $2, heartbeat_at = now(), lease_until = now() + make_interval(secs => $3)
              WHERE id = $1 RETURNING stop_requested, stop_force, now() AS now`,
            [id, phase, this.lease.seconds],
          );
          // A row cleared by someone else is written again; one this supervisor removed is not.
          if (result.rowCount === 0 && !gone) await upsert(client, phase);
          await client.query(`UPDATE queuectl_jobs SET lease_until = now() + make_interval(secs => $2) WHERE claimed_by = $1 AND state = 'processing'`, [id, this.lease.seconds]);
          const row = result.rows[0];
          if (row) this.db.offsetMs = row.now.getTime() - Date.now();
          const stop: StopRequest | null = row?.stop_force ? 'force' : row?.stop_requested ? 'drain' : null;
          return { stop };
        });
        renewing = renewal.catch(() => undefined);
        return renewal;
      },
      unregister: async () => {
        gone = true;
        // A renewal under way would write the row again after it is deleted.
        await renewing;
        await this.db.withClient(async (client) => void (await client.query('DELETE FROM queuectl_supervisors WHERE id = $1', [id])));
      },
    };
  }

  async supervisors(): Promise<SupervisorRecord[]> {
    return this.db.withClient(async (client) => {
      const result = await client.query<SupervisorRow>(`SELECT host, pid, started, started_at, heartbeat_at, count, cwd, phase FROM queuectl_supervisors WHERE lease_until > now() ORDER BY started_at`);
      return result.rows.map(recordOf).filter((record) => record.host !== HOST || isRunning(record));
    });
  }

  /**
   * Flags every supervisor's row, those whose lease has run out included: one cut off from the
   * database reads its request when it reaches it again, and stops then. Only those whose lease
   * is live are waited for.
   */
  async requestStop({ force }: { force: boolean }) {
    return this.db.withClient(async (client) => {
      const result = await client.query<SupervisorRow & { live: boolean; silent_s: number }>(
        `UPDATE queuectl_supervisors SET stop_requested = true, stop_force = stop_force OR $1
          RETURNING host, pid, started, started_at, heartbeat_at, count, cwd, phase,
                    lease_until > now() AS live, extract(epoch FROM now() - heartbeat_at)::int AS silent_s`,
        [force],
      );
      await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, STOP_PAYLOAD]);
      const present = result.rows.filter((row) => row.host !== HOST || isRunning(recordOf(row)));
      // One silent for longer is most likely gone for good (a host that was shut down): not worth a word.
      const notes = present
        .filter((row) => !row.live && row.silent_s < 600)
        .map((row) => `supervisor ${row.pid} on ${row.host} has not renewed its lease for ${row.silent_s}s (cut off from the database?); it stops when it reaches the database again`);
      return { asked: present.filter((row) => row.live).map(recordOf), notes };
    });
  }

  async lostJobs(): Promise<Job[]> {
    const rows = await this.db.withClient(async (client) => {
      const result = await client.query<{ doc: unknown; expired: boolean }>(
        `SELECT doc, (lease_until IS NULL OR lease_until < now()) AS expired FROM queuectl_jobs
          WHERE state = 'processing' AND NOT archived AND (lease_until IS NULL OR lease_until < now() OR claimed_by LIKE $1)`,
        [`${HOST.replace(/[\\%_]/g, '\\$&')}/%`],
      );
      return result.rows.map((row) => ({ job: decodeJob(row.doc), expired: row.expired }));
    });
    // On this host /proc answers at once; elsewhere the lease decides.
    return rows.filter(({ job, expired }) => expired || (job.owner?.host === HOST && !isRunning(job.owner))).map(({ job }) => job);
  }

  async lostClaims(jobs: readonly Job[]): Promise<Set<string>> {
    const expired = await this.db.withClient(async (client) => {
      const result = await client.query<{ id: string }>(`SELECT id FROM queuectl_jobs WHERE state = 'processing' AND NOT archived AND (lease_until IS NULL OR lease_until < now())`);
      return new Set(result.rows.map((row) => row.id));
    });
    // On this host /proc answers at once; elsewhere the lease decides.
    const local = jobs.filter((job) => job.state === 'processing' && job.owner?.host === HOST && !isRunning(job.owner));
    return new Set([...expired, ...local.map((job) => job.id)].filter((id) => jobs.some((job) => job.id === id && job.state === 'processing')));
  }
}

function recordOf(row: SupervisorRow): SupervisorRecord {
  return {
    host: row.host,
    pid: row.pid,
    started: row.started,
    started_at: row.started_at.toISOString(),
    heartbeat_at: row.heartbeat_at.toISOString(),
    count: row.count,
    cwd: row.cwd,
    phase: row.phase,
  };
}
