import fs from 'node:fs';

/**
 * Resolves when something in `dir` changes or after `ms`, whichever comes first: commands that
 * wait (`wait`, `logs --follow`) react at once to a commit, and still poll if the watch misses one.
 */
export function changeOrTimeout(dirs: readonly string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const watchers: fs.FSWatcher[] = [];
    const done = () => {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const dir of dirs) {
      try {
        watchers.push(fs.watch(dir, done));
      } catch {
        // The directory may not exist yet: the timeout still ends the wait.
      }
    }
  });
}
