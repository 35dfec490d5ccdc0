/**
 * A JSON array written out as its elements come, with the same bytes as
 * `JSON.stringify(array, null, 2)` and a newline: `list --json` of a deep queue never holds the
 * whole text. Each batch is stringified as an array of its own, without its brackets: its
 * elements are then indented exactly as in the whole array.
 */
import type { Writable } from 'node:stream';

export class JsonArrayWriter {
  private count = 0;

  constructor(private readonly out: Pick<Writable, 'write'>) {}

  /** Writes these elements, in one write. */
  add(values: readonly unknown[]): void {
    if (values.length === 0) return;
    // "[\n" + elements + "\n]": the elements alone.
    const text = JSON.stringify(values, null, 2).slice(2, -2);
    this.out.write(`${this.count === 0 ? '[\n' : ',\n'}${text}`);
    this.count += values.length;
  }

  end(): void {
    this.out.write(this.count === 0 ? '[]\n' : '\n]\n');
  }
}
