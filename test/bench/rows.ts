/**
 * Report rows for the figures at depth, the coordination ceiling and the real drains on
 * PostgreSQL: each figure beside the baseline it is judged against, measured in the same run.
 */
import type { CeilingResult } from './coordination.ts';
import type { DepthDrain, DepthFigures, DrainShape, StoreKind } from './depth.ts';
import { count, ms, ratio, type Row } from './report.ts';

export const STORE_NAME: Record<StoreKind, string> = { file: 'file store', postgres: 'PostgreSQL' };

export interface DepthTargets {
  /** The depth whose figures are held to the targets (PostgreSQL: the deepest; file store: the middle). */
  at: number;
  /** Each command at `at` within this factor of itself at the shallowest depth. */
  slower: number;
  /** The drain rate at `at` at least this fraction of the rate at the shallowest depth. */
  drainRate: number;
}

const rate = (drain: DepthDrain) =>
  `${drain.jobsPerSec.toFixed(1)} jobs/s (${drain.timedOut ? `${count(drain.done)}/${count(drain.jobs)} in ${ms(drain.ms)}, budget hit` : ms(drain.ms)}${drain.other > 0 ? `; ${count(drain.other)} ended dead or cancelled: not a clean drain` : ''})`;

/**
 * For each command and the drain: at the shallowest depth against `node -e 0` (the drain against
 * the bare spawn loop), at every other depth against the same figure at the shallowest.
 */
export function depthRows(store: StoreKind, figures: Map<number, DepthFigures>, rounds: number, shape: DrainShape, targets: DepthTargets): Row[] {
  const depths = [...figures.keys()].sort((a, b) => a - b);
  const shallow = figures.get(depths[0]!)!;
  const rows: Row[] = [];
  const commands = [['`enqueue`', 'enqueueMs'], ['`status`', 'statusMs'], ['`list --limit 50`', 'listMs']] as const;
  for (const [name, key] of commands) {
    for (const depth of depths) {
      const f = figures.get(depth)!;
      const first = depth === depths[0];
      const r = first ? f[key] / f.nodeMs : f[key] / shallow[key];
      const judged = depth === targets.at;
      rows.push({
        measurement: `${STORE_NAME[store]}, ${count(depth)} pending: ${name} (median of ${rounds})`,
        queuectl: `${ms(f[key])} (${ratio(f[key] / f.nodeMs)}× \`node -e 0\`)`,
        baseline: first ? `${ms(f.nodeMs)} (\`node -e 0\`)` : `${ms(shallow[key])} (at ${count(depths[0]!)} pending)`,
        ratio: ratio(r),
        target: judged ? `≤ ${targets.slower}` : '—',
        pass: judged ? r <= targets.slower : null,
      });
    }
  }
  const label = `drain ${count(shape.jobs)} × \`true\`, ${shape.supervisors} × ${shape.workers}`;
  for (const depth of depths) {
    const drain = figures.get(depth)!.drain!;
    const first = depth === depths[0];
    const r = first ? drain.jobsPerSec / drain.bareJobsPerSec : drain.jobsPerSec / shallow.drain!.jobsPerSec;
    const judged = depth === targets.at;
    rows.push({
      measurement: `${STORE_NAME[store]}, ${count(depth)} pending: ${label}`,
      queuectl: `${rate(drain)}, ${ratio(drain.jobsPerSec / drain.bareJobsPerSec)} of the bare loop`,
      baseline: first ? `${drain.bareJobsPerSec.toFixed(0)} jobs/s (bare loop, ${shape.supervisors * shape.workers} at a time)` : `${shallow.drain!.jobsPerSec.toFixed(1)} jobs/s (at ${count(depths[0]!)} pending)`,
      ratio: ratio(r),
      target: judged ? `≥ ${ratio(targets.drainRate)}` : '—',
      pass: judged ? r >= targets.drainRate : null,
    });
  }
  return rows;
}

/** The real drains: each against the bare spawn loop at the same total concurrency. */
export function realDrainRows(drains: { shape: DrainShape; drain: DepthDrain }[], target: number): Row[] {
  return drains.map(({ shape, drain }) => {
    const r = drain.jobsPerSec / drain.bareJobsPerSec;
    return {
      measurement: `PostgreSQL: drain ${count(shape.jobs)} × \`true\`, ${shape.supervisors} supervisors × ${shape.workers} workers`,
      queuectl: rate(drain),
      baseline: `${drain.bareJobsPerSec.toFixed(0)} jobs/s (bare loop, ${shape.supervisors * shape.workers} at a time)`,
      ratio: ratio(r),
      target: `≥ ${target}`,
      pass: r >= target,
    };
  });
}

export const CEILING_TARGET = { store: 'postgres', k: 8, jobsPerSec: 3_000, risingTo: 4 };

/**
 * One row per store and K against K = 1; PostgreSQL's K = 8 against the target and a row for
 * the rise from K = 1 to K = 4. Output that cannot be read gives one row pointing at it.
 */
export function ceilingRows(result: CeilingResult): Row[] {
  if (result.rates.size === 0) {
    return [{ measurement: 'coordination ceiling (test/bench/ceiling.ts)', queuectl: 'its output, below', baseline: '—', ratio: '—', target: `PostgreSQL ≥ ${count(CEILING_TARGET.jobsPerSec)} jobs/s at K = 8`, pass: null }];
  }
  const rows: Row[] = [];
  for (const store of ['postgres', 'file'] as const) {
    const byK = result.rates.get(store);
    if (!byK) continue;
    const ks = [...byK.keys()].sort((a, b) => a - b);
    const one = byK.get(ks[0]!)!;
    for (const k of ks) {
      const value = byK.get(k)!;
      const judged = store === CEILING_TARGET.store && k === CEILING_TARGET.k;
      rows.push({
        measurement: `coordination ceiling, ${STORE_NAME[store]}, K = ${k} supervisor process${k === 1 ? '' : 'es'}, no-op jobs`,
        queuectl: `${count(Math.round(value))} jobs/s`,
        baseline: k === ks[0] ? '—' : `${count(Math.round(one))} jobs/s (K = ${ks[0]})`,
        ratio: k === ks[0] ? '—' : ratio(value / one),
        target: judged ? `≥ ${count(CEILING_TARGET.jobsPerSec)} jobs/s` : '—',
        pass: judged ? value >= CEILING_TARGET.jobsPerSec : null,
      });
    }
    if (store === CEILING_TARGET.store && !byK.has(CEILING_TARGET.k)) {
      rows.push({ measurement: `coordination ceiling, PostgreSQL, K = ${CEILING_TARGET.k}`, queuectl: 'not in its output', baseline: '—', ratio: '—', target: `≥ ${count(CEILING_TARGET.jobsPerSec)} jobs/s`, pass: false });
    }
    if (store === CEILING_TARGET.store) {
      const rise = ks.filter((k) => k <= CEILING_TARGET.risingTo).map((k) => byK.get(k)!);
      const rising = rise.length >= 2 && rise.every((value, i) => i === 0 || value > rise[i - 1]!);
      rows.push({
        measurement: `coordination ceiling, PostgreSQL: rising from K = ${ks[0]} to K = ${CEILING_TARGET.risingTo}`,
        queuectl: rise.map((value) => count(Math.round(value))).join(' → '),
        baseline: '—',
        ratio: '—',
        target: 'each K above the last',
        pass: rising,
      });
    }
  }
  return rows;
}
