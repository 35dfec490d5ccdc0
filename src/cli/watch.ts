import fs from 'node:fs';
import type { Store } from '../store/store.ts';

/**
 * Resolves when the store's jobs change, something in one of `dirs` changes (a job's log), or
 * after `ms`, whichever comes first: commands that wait (`wait`, `logs --follow`, `status
 * --watch`) react at once to a commit, and still poll if a change signal is missed.
 */
export function changeOrTimeout(store: Store, dirs: readonly string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const watchers: fs.FSWatcher[] = [];
    const done = () => {
      clearTimeout(timer);
      stopStore();
      for (const watcher of watchers) watcher.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const stopStore = store.watch(done);
    for (const dir of dirs) {
      try {
        watchers.push(fs.watch(dir, done));
      } catch {
        // The directory may not exist yet: the timeout still ends the wait.
      }
    }
  });
}
