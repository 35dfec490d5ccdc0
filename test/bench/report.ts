/** The benchmark's one table, in markdown so it can be pasted into README.md. */
import os from 'node:os';

export interface Row {
  measurement: string;
  queuectl: string;
  baseline: string;
  ratio: string;
  target: string;
  /** null: reported for information, no target. */
  pass: boolean | null;
}

export function machine(): string {
  const cpus = os.cpus();
  const memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
  const load = os.loadavg().map((value) => value.toFixed(2)).join(' ');
  return `queuectl benchmark — ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${memory} RAM, Node ${process.version}, ${os.platform()} ${os.release()}, ${new Date().toISOString()} (load average at start ${load})`;
}

/** `appendix`: blocks printed whole after the notes (another tool's own output, in a code fence). */
export function renderTable(header: string, rows: readonly Row[], notes: readonly string[], appendix: readonly string[] = []): string {
  const head = ['measurement', 'queuectl', 'baseline', 'ratio', 'target', 'result'];
  const cells = rows.map((row) => [row.measurement, row.queuectl, row.baseline, row.ratio, row.target, row.pass === null ? 'info' : row.pass ? 'pass' : '**FAIL**']);
  const widths = head.map((title, i) => Math.max(title.length, ...cells.map((cell) => (cell[i] as string).length)));
  const line = (values: string[]) => `| ${values.map((value, i) => value.padEnd(widths[i] as number)).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i >= 1 && i <= 3 ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`;
  const body = [line(head), rule, ...cells.map(line)].join('\n');
  const blocks = appendix.map((block) => `\n${block}\n`).join('');
  return `${header}\n\n${body}\n${notes.length > 0 ? `\n${notes.map((note) => `- ${note}`).join('\n')}\n` : ''}${blocks}`;
}

export const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 1 : 0)} ms`);
export const ratio = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 0.1 ? 3 : 2) : '—');
export const count = (value: number) => value.toLocaleString('en-US');
export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
