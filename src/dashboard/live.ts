/**
 * The store's change signal for the dashboard: a watch on the store directory (jobs.json is
 * replaced by rename, so the file itself cannot be watched) and on the logs directory, with a
 * slow poll behind both in case a watch misses an event or the directory appears later.
 */
import fs from 'node:fs';
import { currentIdentity } from '../store/file/atomic.ts';
import type { Store } from '../store/store.ts';
import { CHANGE_POLL_MS, CHANGE_THROTTLE_MS } from './knobs.ts';

export class ChangeSignal {
  private readonly listeners = new Set<() => void>();
  private watchers: fs.FSWatcher[] = [];
  private readonly poll: NodeJS.Timeout;
  private timer: NodeJS.Timeout | null = null;
  private last = 0;
  private fingerprint: string;

  private readonly unwatch: () => void;

  constructor(private readonly store: Store) {
    this.fingerprint = this.read();
    this.arm();
    this.unwatch = store.watch(() => this.changed());
    this.poll = setInterval(() => {
      if (this.watchers.length < 2) this.arm();
      if (this.read() !== this.fingerprint) this.changed();
    }, CHANGE_POLL_MS);
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.poll);
    this.unwatch();
    if (this.timer) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  private read(): string {
    const logs = (() => {
      try {
        return String(fs.statSync(this.store.home.logs).mtimeMs);
      } catch {
        return '-';
      }
    })();
    return `${currentIdentity(this.store.home.jobs) ?? '-'} ${logs}`;
  }

  private arm(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    for (const dir of [this.store.home.dir, this.store.home.logs]) {
      try {
        const watcher = fs.watch(dir, () => this.changed());
        watcher.on('error', () => undefined);
        this.watchers.push(watcher);
      } catch {
        // Not there yet: the poll arms the watch once it is.
      }
    }
  }

  /** Signals now, or once the throttle window has passed, never twice in one window. */
  private changed(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + CHANGE_THROTTLE_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.last = Date.now();
      this.fingerprint = this.read();
      for (const listener of this.listeners) listener();
    }, wait);
  }
}
