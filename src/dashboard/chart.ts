import type { Window } from '../cli/metrics.ts';
import { html, type Html } from './html.ts';

const WIDTH = 720;
const HEIGHT = 140;
const TOP = 10;
const BOTTOM = 20;

/** Completed (up) and failed (stacked on top) runs per minute, as an inline SVG bar chart. */
export function minuteChart(buckets: readonly Window[]): Html {
  const peak = Math.max(1, ...buckets.map((bucket) => bucket.completed + bucket.failed));
  const slot = WIDTH / buckets.length;
  const scale = (HEIGHT - TOP - BOTTOM) / peak;
  const base = HEIGHT - BOTTOM;
  const bars = buckets.map((bucket, index) => {
    const x = (index * slot + 1).toFixed(1);
    const w = Math.max(1, slot - 2).toFixed(1);
    const done = bucket.completed * scale;
    const failed = bucket.failed * scale;
    const minutesAgo = buckets.length - index - 1;
    const label = `${minutesAgo === 0 ? 'this minute' : `${minutesAgo} min ago`}: ${bucket.completed} completed, ${bucket.failed} failed`;
    return html`<g><title>${label}</title>${done > 0 ? html`<rect x="${x}" y="${(base - done).toFixed(1)}" width="${w}" height="${done.toFixed(1)}" fill="#16a34a"/>` : ''}${failed > 0 ? html`<rect x="${x}" y="${(base - done - failed).toFixed(1)}" width="${w}" height="${failed.toFixed(1)}" fill="#dc2626"/>` : ''}</g>`;
  });
  const total = buckets.reduce((sum, bucket) => sum + bucket.completed + bucket.failed, 0);
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="runs per minute over the last hour: ${total} in all">
<line x1="0" y1="${base}" x2="${WIDTH}" y2="${base}" stroke="#9ca3af"/>
<text x="0" y="${HEIGHT - 4}" font-size="11" fill="#6b7280">60 min ago</text>
<text x="${WIDTH}" y="${HEIGHT - 4}" font-size="11" fill="#6b7280" text-anchor="end">now</text>
<text x="0" y="${TOP}" font-size="11" fill="#6b7280">${peak}/min</text>
${bars}</svg>`;
}
