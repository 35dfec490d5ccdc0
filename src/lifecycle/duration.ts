import ms from 'ms';
import { invalid } from './error.ts';

/** `10s`, `5m`, `1.5h`, `2d` → milliseconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const value = /^-?\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`invalid duration "${text}": use a number with a unit, such as 500ms, 10s, 5m, 2h or 7d`);
  }
  if (value <= 0) throw invalid(`invalid duration "${text}": must be more than 0, such as 500ms, 10s or 5m`);
  return value;
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)}ms`;
  if (milliseconds < 59_950) return `${(milliseconds / 1000).toFixed(milliseconds < 9_995 ? 2 : 1)}s`;
  // ms rounds within one unit, so 59.7 minutes reads "60m"; reading that back and formatting it
  // again carries into the next unit: "1h".
  return ms(ms(ms(Math.round(milliseconds)) as ms.StringValue));
}

/** `in 2.00s`, `5m ago`, or `now`: how far `iso` is from `now`, as a person says it. */
export function relativeTime(iso: string, now: Date): string {
  const delta = Date.parse(iso) - now.getTime();
  const span = formatDuration(Math.abs(delta));
  if (Math.abs(delta) < 50) return 'now';
  return delta > 0 ? `in ${span}` : `${span} ago`;
}
