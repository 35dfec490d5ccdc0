/**
 * Waking on PostgreSQL: LISTEN/NOTIFY on a dedicated connection, separate from the pool.
 * Payloads are tiny: the committing process's token (and the queue), or `stop`.
 */
import type { Notification } from 'pg';
import type { Change } from '../store.ts';

/** The first pause before reconnecting a dropped LISTEN connection, doubling up to the next: a restarting server is not hammered. */
export const RECONNECT_FIRST_MS = 100;
export const RECONNECT_MAX_MS = 5_000;

/** The channel of change notifications; the payload names the process that committed. */
export const CHANGES_CHANNEL = 'queuectl_changes';
/** The payload of the notification that asks supervisors to look at their stop requests now. */
export const STOP_PAYLOAD = 'stop';

/**
 * A dedicated connection that LISTENs for changes. When it drops it reconnects (after a
 * growing pause) and then tells every listener once, since changes may have been missed.
 */
export function listen(url: string, token: string, tell: (change: Change) => void): { stop(): void } {
  let stopped = false;
  let client: import('pg').Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let pause = RECONNECT_FIRST_MS;
  // One reconnection at a time: a failed connection both ends and fails its connect.
  const reopen = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void open(true);
    }, pause);
    pause = Math.min(pause * 2, RECONNECT_MAX_MS);
  };
  const open = async (missed: boolean) => {
    const { Client } = await import('pg');
    const next = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, keepAlive: true, application_name: `queuectl listen ${process.pid}` });
    client = next;
    next.on('error', () => undefined);
    next.on('notification', (message: Notification) => tell({ own: message.payload === token || message.payload?.startsWith(`${token} `) === true, stop: message.payload === STOP_PAYLOAD }));
    next.on('end', () => {
      if (client !== next) return;
      client = null;
      reopen();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch {
      if (client === next) client = null;
      void next.end().catch(() => undefined);
      return reopen();
    }
    if (stopped || client !== next) return void next.end().catch(() => undefined);
    pause = RECONNECT_FIRST_MS;
    if (missed) tell({ own: false, stop: true });
  };
  void open(false);
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const last = client;
      client = null;
      void last?.end().catch(() => undefined);
    },
  };
}
