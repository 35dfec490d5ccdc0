/**
 * Named crash points for fault-injection tests, enabled only through QUEUECTL_FAILPOINTS, e.g.
 * `after-claim-commit=kill,before-rename=kill,in-lock=sleep:15000`. Unset, a failpoint is one
 * map lookup on an empty map.
 */
type Action = { kind: 'kill' } | { kind: 'sleep'; ms: number } | { kind: 'throw' };

function parse(spec: string | undefined): Map<string, Action> {
  const points = new Map<string, Action>();
  for (const item of (spec ?? '').split(',')) {
    const [name, action] = item.split('=').map((part) => part.trim());
    if (!name || !action) continue;
    if (action === 'kill') points.set(name, { kind: 'kill' });
    else if (action === 'throw') points.set(name, { kind: 'throw' });
    else if (action.startsWith('sleep:')) points.set(name, { kind: 'sleep', ms: Number(action.slice(6)) || 0 });
  }
  return points;
}

const points = parse(process.env.QUEUECTL_FAILPOINTS);

export function failpoint(name: string): void {
  if (points.size === 0) return;
  const action = points.get(name);
  if (!action) return;
  if (action.kind === 'kill') process.kill(process.pid, 'SIGKILL');
  if (action.kind === 'throw') throw new Error(`failpoint ${name}`);
  // A synchronous sleep: the point is to stall with the lock held, timers and all.
  if (action.kind === 'sleep') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, action.ms);
}
