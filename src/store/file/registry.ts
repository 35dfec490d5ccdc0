/**
 * The PID files of running supervisors, one per supervisor under `.queuectl/supervisors/`.
 * Each names its pid and that pid's start time, so a stale file or a reused pid is never
 * mistaken for a live supervisor.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Home } from '../home.ts';
import { isRunning } from '../../system/proc.ts';
import type { SupervisorRecord } from '../store.ts';

function fileOf(home: Home, pid: number): string {
  return path.join(home.supervisors, `${pid}.json`);
}

export function registerSupervisor(home: Home, record: SupervisorRecord): void {
  // Not recursive: on a read-only filesystem Node's recursive mkdir reports ENOENT, not EROFS.
  try {
    fs.mkdirSync(home.supervisors, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const file = fileOf(home, record.pid);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

export function unregisterSupervisor(home: Home, pid: number): void {
  fs.rmSync(fileOf(home, pid), { force: true });
}

function readRecord(file: string): SupervisorRecord | null {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as SupervisorRecord;
    return Number.isInteger(record.pid) && typeof record.started === 'string' ? record : null;
  } catch {
    return null;
  }
}

/** Every registered supervisor, live or not, with the file that registers it. */
export function listRegistered(home: Home): { record: SupervisorRecord | null; file: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(home.supervisors);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.json'))
    .map((name) => path.join(home.supervisors, name))
    .map((file) => ({ record: readRecord(file), file }));
}

/** Live supervisors only; never writes (status is a read). */
export function liveSupervisors(home: Home): SupervisorRecord[] {
  return listRegistered(home)
    .map(({ record }) => record)
    .filter((record): record is SupervisorRecord => record !== null && isRunning(record))
    .sort((a, b) => a.started_at.localeCompare(b.started_at));
}

/** Removes PID files whose process is gone (or that cannot be read). */
export function removeStale(home: Home): number {
  let removed = 0;
  for (const { record, file } of listRegistered(home)) {
    if (record === null || !isRunning(record)) {
      fs.rmSync(file, { force: true });
      removed++;
    }
  }
  return removed;
}
