/**
 * A JSON array written out as its elements come, with the same bytes as
 * `JSON.stringify(array, null, 2)` and a newline: `list --json` of a deep queue never holds the
 * whole text. Indenting an element's lines is safe: JSON strings hold no raw newlines.
 */
import type { Writable } from 'node:stream';

export class JsonArrayWriter {
  private count = 0;

  constructor(private readonly out: Pick<Writable, 'write'>) {}

  /** Writes these elements, in one write. */
  add(values: readonly unknown[]): void {
    if (values.length === 0) return;
    const text = values.map((value) => `  ${JSON.stringify(value, null, 2).replaceAll('\n', '\n  ')}`).join(',\n');
    this.out.write(`${this.count === 0 ? '[\n' : ',\n'}${text}`);
    this.count += values.length;
  }

  end(): void {
    this.out.write(this.count === 0 ? '[]\n' : '\n]\n');
  }
}
