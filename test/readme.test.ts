/**
 * README's examples are today's real output. A code block after `<!-- example SESSION -->` is
 * run: each `$ ` line in a shell in a fresh directory per SESSION (blocks of one session share
 * it, in order), and what it prints (stdout and stderr, as a terminal shows them) must be what
 * the block shows, times, durations, pids and column widths aside. After
 * `<!-- example SESSION supervisor -->` the block's one command is a `worker start`: it runs in
 * the background until `wait --due` returns, then `worker stop` ends it, and its log must be the
 * lines shown, in any order. `README_WRITE=1` writes the real output into README.md instead of comparing.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, cleanEnv, ROOT } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

const README = path.join(ROOT, 'README.md');
/** Where the examples say they run: a session's directory is `demo` in its HOME. */
const SHOWN_HOME = '/home/me';
const MARK = /^<!-- example (\S+)( supervisor)? -->\n```\n([\s\S]*?)```\n/gm;

interface Block {
  session: string;
  supervisor: boolean;
  /** Where the block's text starts and ends in README.md. */
  start: number;
  end: number;
  text: string;
}

function blocks(readme: string): Block[] {
  return [...readme.matchAll(MARK)].map((match) => {
    const start = match.index! + match[0].indexOf('```\n') + 4;
    return { session: match[1]!, supervisor: match[2] !== undefined, start, end: start + match[3]!.length, text: match[3]! };
  });
}

/** The commands of a block, each with the lines the README shows after it. */
function commands(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('$ ')).map((line) => line.slice(2));
}

/** What may differ between two runs: times, durations, pids, widths. */
function masked(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z/g, 'TIME')
    .replace(/\b\d+(\.\d+)?(ms|s|m|h|d)\b/g, 'DUR')
    .replace(/\b\d{3,}\b/g, 'N')
    .replace(/[ \t]+/g, ' ')
    .replace(/ $/gm, '');
}

class Session {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly home: string;
  private readonly bin: string;

  constructor(root: string, name: string) {
    this.home = path.join(root, name);
    this.dir = path.join(this.home, 'demo');
    this.bin = path.join(this.home, 'bin');
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(this.bin);
    fs.writeFileSync(path.join(this.bin, 'queuectl'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });
    // The session's HOME is a ceiling: no store above it is ever found.
    this.env = cleanEnv({ PATH: `${this.bin}:${process.env.PATH}`, HOME: this.home, QUEUECTL_CEILING_DIRECTORIES: this.home });
  }

  shown(text: string): string {
    return text.split(fs.realpathSync(this.home)).join(SHOWN_HOME).split(this.home).join(SHOWN_HOME);
  }

  run(command: string): string {
    const result = spawnSync('sh', ['-c', `${command} 2>&1`], { cwd: this.dir, env: this.env, encoding: 'utf8', timeout: 60_000 });
    return this.shown(result.stdout);
  }

  /** Runs the supervisor until the due work is done, then stops it; its log, as printed. */
  async supervise(command: string): Promise<string> {
    const child = spawn('sh', ['-c', `exec ${command}`], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (chunk) => (log += chunk));
    child.stderr.on('data', (chunk) => (log += chunk));
    const exited = new Promise((resolve) => child.on('close', resolve));
    this.run('queuectl wait --due --timeout 60s');
    this.run('queuectl worker stop');
    await exited;
    return this.shown(log);
  }
}

/** Every block's real output, in README order. */
async function realOutputs(found: readonly Block[], root: string): Promise<Map<Block, string>> {
  const sessions = new Map<string, Session>();
  const outputs = new Map<Block, string>();
  for (const block of found) {
    let session = sessions.get(block.session);
    if (!session) sessions.set(block.session, (session = new Session(root, block.session)));
    const lines = commands(block.text);
    if (block.supervisor) {
      outputs.set(block, `$ ${lines[0]}\n${await session.supervise(lines[0]!)}`);
      continue;
    }
    outputs.set(block, lines.map((command) => `$ ${command}\n${session!.run(command)}`).join(''));
  }
  return outputs;
}

test('README examples print what README shows', async () => {
  const readme = fs.readFileSync(README, 'utf8');
  const found = blocks(readme);
  assert.ok(found.length >= 15, `README has marked examples (${found.length})`);
  const { dir, cleanup } = tempDir('queuectl-readme-');
  try {
    const outputs = await realOutputs(found, dir);
    if (process.env.README_WRITE) {
      let text = readme;
      for (const block of [...found].reverse()) text = text.slice(0, block.start) + outputs.get(block)! + text.slice(block.end);
      fs.writeFileSync(README, text);
      return;
    }
    for (const block of found) {
      // Two events of one moment (a run's end, the next start) may be logged in either order.
      const compared = (text: string) => (block.supervisor ? masked(text).split('\n').sort().join('\n') : masked(text));
      assert.fixture(compared(block.text), compared(outputs.get(block)!), `the ${block.session} example at README.md offset ${block.start}`);
    }
  } finally {
    cleanup();
  }
});

test.run();
