import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAlive, procInfo, type SupervisorProcess } from '../support/supervisor-proc.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/**
 * A job whose first run leaves a tree behind: a background child, a double-forked grandchild
 * (reparented, same process group) and one that escapes with `setsid` into a session and group
 * of its own. Its second run writes down, before anything else, what became of each of them.
 */
function treeJob(s: Sandbox): string {
  const file = (name: string) => s.path(name);
  return [
    `if [ -e ${file('ran')} ]; then`,
    `  for p in $(cat ${file('pids')}); do echo "$p $(cut -d' ' -f3 /proc/$p/stat 2>/dev/null || echo gone)" >> ${file('seen')}; done`,
    `  echo rerun >> ${file('seen')}`,
    'else',
    `  touch ${file('ran')}`,
    `  echo $$ >> ${file('pids')}`,
    `  sleep 300 & echo $! >> ${file('pids')}`,
    `  (sleep 300 & echo $! >> ${file('pids')})`,
    `  setsid sh -c 'echo $$ >> ${file('pids')}; exec sleep 300' &`,
    '  sleep 300',
    'fi',
  ].join('\n');
}

interface Tree {
  shell: number;
  pids: number[];
  escaped: number;
}

/** Waits for the whole tree of the first run, and checks that the escape is real. */
async function firstTree(s: Sandbox): Promise<Tree> {
  const pids = await waitFor(() => {
    const list = fs.existsSync(s.path('pids')) ? fs.readFileSync(s.path('pids'), 'utf8').split('\n').filter(Boolean).map(Number) : [];
    return list.length === 4 && list.every(isAlive) ? list : null;
  }, { what: 'the first run to start its four processes' });
  const [shell, , , escaped] = pids as [number, number, number, number];
  assert.is.not(procInfo(escaped)?.pgid, procInfo(shell)?.pgid, 'the setsid child left the job\'s process group');
  return { shell, pids, escaped };
}

/** What the re-run saw of the first run's processes when it started: every one must be gone. */
async function assertGoneBeforeRerun(s: Sandbox, tree: Tree): Promise<void> {
  await waitFor(() => fs.existsSync(s.path('seen')) && fs.readFileSync(s.path('seen'), 'utf8').includes('rerun'), { timeout: 20_000, what: 'the re-run to start' });
  const seen = fs.readFileSync(s.path('seen'), 'utf8').split('\n').filter((line) => /^\d+ /.test(line));
  assert.is(seen.length, 4);
  for (const line of seen) {
    const [pid, state] = line.split(' ');
    const what = Number(pid) === tree.escaped ? 'the setsid grandchild' : Number(pid) === tree.shell ? 'the job\'s shell' : 'a child in the job\'s group';
    assert.ok(state === 'gone' || state === 'Z' || state === 'X', `${what} (pid ${pid}) was still running (state ${state}) when the re-run started`);
  }
  for (const pid of tree.pids) assert.not.ok(isAlive(pid), `pid ${pid} of the first run is gone`);
}

async function startTree(s: Sandbox, extra: Record<string, unknown> = {}): Promise<{ supervisor: SupervisorProcess; tree: Tree }> {
  s.ok('config', 'set', 'kill-grace', '1s');
  s.ok('config', 'set', 'backoff-base', '1');
  s.enqueue({ id: 'tree', command: treeJob(s), ...extra });
  const supervisor = await s.start(1);
  return { supervisor, tree: await firstTree(s) };
}

// ---

const tree = suite('a job that leaves grandchildren behind, one of them escaped with setsid');

scenario(tree, 'SIGKILL of the whole supervisor group, then a restart: every process of the first run is gone before the re-run starts', async (s) => {
  const { supervisor, tree } = await startTree(s);
  supervisor.signalGroup('SIGKILL');
  await supervisor.waitExit();
  assert.ok(tree.pids.every(isAlive), 'the first run outlives the crash: its processes are not in the supervisor\'s group');
  await s.start(1);
  await assertGoneBeforeRerun(s, tree);
  const job = await s.waitJob('tree', (j) => j.state === 'completed', 'to complete');
  assert.is(job.recoveries, 1);
  assert.is(job.attempts, 1);
});

scenario(tree, 'SIGKILL of the supervisor alone: its worker kills the job\'s group, and the restart kills the escaped grandchild before the re-run', async (s) => {
  const { supervisor, tree } = await startTree(s);
  process.kill(supervisor.pid, 'SIGKILL');
  await supervisor.waitExit();
  await waitFor(() => !isAlive(tree.shell), { what: 'the worker to kill the job\'s group as it exits' });
  await s.start(1);
  await assertGoneBeforeRerun(s, tree);
  const job = await s.waitJob('tree', (j) => j.state === 'completed', 'to complete');
  assert.is(job.recoveries, 1);
});

scenario(tree, 'SIGKILL of its worker: the supervisor kills the whole run, the escaped grandchild too, before the re-run', async (s) => {
  const { supervisor, tree } = await startTree(s);
  const worker = supervisor.workerInSlot(1);
  assert.ok(worker);
  process.kill(worker!, 'SIGKILL');
  await assertGoneBeforeRerun(s, tree);
  const job = await s.waitJob('tree', (j) => j.state === 'completed', 'to complete');
  assert.is(job.recoveries, 1);
  assert.ok(supervisor.running);
});

scenario(tree, 'a forced stop (second signal) and a restart: the escaped grandchild is gone before the re-run starts', async (s) => {
  const { supervisor, tree } = await startTree(s);
  supervisor.signalGroup('SIGTERM');
  await supervisor.waitLog(/SIGTERM: draining/);
  supervisor.signalGroup('SIGTERM');
  assert.is((await supervisor.waitExit(15_000)).code, 0);
  assert.is(s.job('tree').state, 'pending', 'the forced job goes back to pending');
  await s.start(1);
  await assertGoneBeforeRerun(s, tree);
  const job = await s.waitJob('tree', (j) => j.state === 'completed', 'to complete');
  assert.is(job.recoveries, 0, 'a forced stop is not counted as a crash');
  assert.equal(job.history.map((entry) => entry.outcome), ['interrupted', 'completed']);
});

scenario(tree, 'a timeout: the escaped grandchild of the timed-out run is gone before the retry starts', async (s) => {
  const { tree } = await startTree(s, { timeout: '1s', max_retries: 2 });
  await assertGoneBeforeRerun(s, tree);
  const job = await s.waitJob('tree', (j) => j.state === 'completed', 'to complete on its retry');
  assert.equal(job.history.map((entry) => entry.outcome), ['timed-out', 'completed']);
});

tree.run();
