import ms from 'ms';
import { invalid } from './error.ts';

/** `10s`, `5m`, `1.5h`, `2d` → milliseconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const value = /^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`invalid duration "${text}": use a number with a unit, such as 500ms, 10s, 5m, 2h or 7d`);
  }
  return value;
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)}ms`;
  if (milliseconds < 60_000) return `${(milliseconds / 1000).toFixed(milliseconds < 10_000 ? 2 : 1)}s`;
  return ms(Math.round(milliseconds), { long: false });
}
