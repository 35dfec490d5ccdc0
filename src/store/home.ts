import fs from 'node:fs';
import path from 'node:path';
import { QueueError } from '../lifecycle/error.ts';

/** Where a store keeps its files: see `resolveHome` for how the directory is found. */
export interface Home {
  dir: string;
  jobs: string;
  config: string;
  lock: string;
  logs: string;
  supervisors: string;
}

const STORE_NAME = '.queuectl';

/**
 * The store is found as git finds its repository: QUEUECTL_HOME if set; else the nearest
 * `.queuectl` from `cwd` upwards, never looking in a ceiling directory (`ceilings`) unless `cwd`
 * is one; else a new one in `cwd`. A `.queuectl` that is not a directory still ends the search,
 * so that `checkHome` reports it instead of a store further up being used.
 */
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string): Home {
  const dir = env.QUEUECTL_HOME ? path.resolve(cwd, env.QUEUECTL_HOME) : (findHomeDir(cwd, ceilings(env)) ?? path.join(cwd, STORE_NAME));
  return {
    dir,
    jobs: path.join(dir, 'jobs.json'),
    config: path.join(dir, 'config.json'),
    lock: path.join(dir, 'lock'),
    logs: path.join(dir, 'logs'),
    supervisors: path.join(dir, 'supervisors'),
  };
}

/**
 * Where the search upwards stops, as GIT_CEILING_DIRECTORIES: QUEUECTL_CEILING_DIRECTORIES, a
 * colon-separated list of absolute paths (empty: none). Unset, the temp directory and the
 * directory that holds the home directories (/home) are ceilings: a `.queuectl` that someone
 * left in /tmp or /home is shared by everyone below it, and picking it up by accident would put
 * one user's jobs, with their environment and output, in another's queue.
 */
export function ceilings(env: NodeJS.ProcessEnv): string[] {
  const listed = env.QUEUECTL_CEILING_DIRECTORIES;
  // For root (HOME=/root) the parent is `/`, where a store is deliberate: not a default ceiling.
  const homes = env.HOME ? path.dirname(path.resolve(env.HOME)) : '/';
  const defaults = [env.TMPDIR || '/tmp', ...(homes === '/' ? [] : [homes])];
  const dirs = listed === undefined ? defaults : listed.split(':').filter((dir) => path.isAbsolute(dir));
  return dirs.map(realPath);
}

function realPath(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

function findHomeDir(cwd: string, ceilingDirs: readonly string[]): string | null {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, STORE_NAME);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir || ceilingDirs.includes(parent)) return null;
  }
}

/**
 * Refuses a store path that cannot be a store: a file, or a path through a file. A store that
 * does not exist yet is fine: reads find an empty queue, and the first change creates it.
 */
export function checkHome(home: Home): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(home.dir, { throwIfNoEntry: false });
  } catch (error) {
    throw homeError(home.dir, error as NodeJS.ErrnoException, 'read');
  }
  if (stat && !stat.isDirectory()) throw homeError(home.dir, Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), 'read');
}

/** The nearest part of `dir` (itself included) that exists but is not a directory, if any. */
function blockingFile(dir: string): string | null {
  for (let current = dir; ; current = path.dirname(current)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(current, { throwIfNoEntry: false });
    } catch {
      // ENOTDIR: a file further up; EACCES: nothing to learn here either way.
    }
    if (stat) return stat.isDirectory() ? null : current;
    if (path.dirname(current) === current) return null;
  }
}

/** Why the store directory `dir` cannot be read or made, in one line that names it. */
export function homeError(dir: string, error: NodeJS.ErrnoException, action: 'read' | 'create'): QueueError {
  const file = error.code === 'ENOTDIR' || error.code === 'EEXIST' ? blockingFile(dir) : null;
  if (file) {
    const where = file === dir ? `the store ${dir} is a file` : `the store ${dir} is inside ${file}, which is a file`;
    return new QueueError('io-error', `${where}, not a directory; move that file away, or point QUEUECTL_HOME at a directory`);
  }
  const hint =
    error.code === 'EACCES' || error.code === 'EPERM' || error.code === 'EROFS' ? 'check the permissions of the directory it is in'
    // mkdir in /proc or /sys fails with ENOENT although the parent exists.
    : error.code === 'ENOENT' ? 'no directory can be made there'
    : error.message;
  return new QueueError('io-error', `cannot ${action} the store ${dir}: ${error.code ?? 'error'}: ${hint}; point QUEUECTL_HOME at a directory you can write`);
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
jobs.json.written
*.next
*.next.*
`;

/**
 * Creates the store directory, and any missing parent, if it is missing; returns the first
 * directory it made (as a recursive mkdir does), or undefined when it made none. One mkdir per
 * missing part, never Node's recursive mkdir: where mkdir fails with ENOENT although the parent
 * exists (/proc, /sys), that one retries forever.
 */
export function makeHomeDir(home: Home): string | undefined {
  const missing: string[] = [];
  for (let dir = home.dir; !fs.existsSync(dir) && path.dirname(dir) !== dir; dir = path.dirname(dir)) missing.unshift(dir);
  let first: string | undefined;
  for (const dir of missing) {
    try {
      // The store itself is private whatever the umask: commands, per-job environments and output can hold secrets.
      fs.mkdirSync(dir, dir === home.dir ? { mode: 0o700 } : undefined);
      first ??= dir;
    } catch (error) {
      // Another process made it meanwhile: it is theirs to remove, not ours.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(dir).isDirectory()) throw error;
    }
  }
  return first;
}

/**
 * Removes what `makeHomeDir` made for a transaction that wrote nothing (`first` and everything
 * below it on the way to the store), as long as it is still empty.
 */
export function removeEmptyHome(home: Home, first: string): void {
  for (let dir = home.dir; ; dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // Another process has put files in it meanwhile, or removed it: either way it stays theirs.
      return;
    }
    if (dir === first || path.dirname(dir) === dir) return;
  }
}

/** Creates the store directory with its .gitignore; safe to race with other processes. Returns what `makeHomeDir` made. */
export function ensureHome(home: Home): string | undefined {
  const first = makeHomeDir(home);
  writeGitignore(home);
  return first;
}

export function writeGitignore(home: Home): void {
  try {
    // Private like the rest of a new store; `wx` never touches one that exists, so a mode widened by hand stays.
    fs.writeFileSync(path.join(home.dir, '.gitignore'), GITIGNORE, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
