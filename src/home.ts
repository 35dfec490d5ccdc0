import fs from 'node:fs';
import path from 'node:path';

/** Where a store keeps its files: `.queuectl/` in the current directory, or QUEUECTL_HOME. */
export interface Home {
  dir: string;
  jobs: string;
  config: string;
  lock: string;
  logs: string;
  supervisors: string;
}

export function resolveHome(env: NodeJS.ProcessEnv, cwd: string): Home {
  const dir = path.resolve(cwd, env.QUEUECTL_HOME || '.queuectl');
  return {
    dir,
    jobs: path.join(dir, 'jobs.json'),
    config: path.join(dir, 'config.json'),
    lock: path.join(dir, 'lock'),
    logs: path.join(dir, 'logs'),
    supervisors: path.join(dir, 'supervisors'),
  };
}

/** The directory the store belongs to: a hand-added job without `cwd` runs there. */
export function projectDir(home: Home): string {
  return path.dirname(home.dir);
}

/** How a path is shown in messages: relative to where the user stands, when that is shorter. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && relative.length < file.length ? relative : file;
}

const GITIGNORE = `# Runtime files of queuectl. jobs.json and config.json may be committed.
lock/
lock.takeover/
supervisors/
logs/
*.next
*.next.*
`;

/** Creates the store directory if it is missing; says whether it did. */
export function makeHomeDir(home: Home): boolean {
  // Private whatever the umask: commands, per-job environments and output can hold secrets.
  return fs.mkdirSync(home.dir, { recursive: true, mode: 0o700 }) !== undefined;
}

/** Removes the store directory made for a transaction that wrote nothing, if it is still empty. */
export function removeEmptyHome(home: Home): void {
  try {
    fs.rmdirSync(home.dir);
  } catch {
    // Another process has put files in it meanwhile, or removed it: either way it stays theirs.
  }
}

/** Creates the store directory with its .gitignore; safe to race with other processes. */
export function ensureHome(home: Home): void {
  makeHomeDir(home);
  writeGitignore(home);
}

export function writeGitignore(home: Home): void {
  try {
    fs.writeFileSync(path.join(home.dir, '.gitignore'), GITIGNORE, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
