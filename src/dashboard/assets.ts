/**
 * The dashboard's one stylesheet and one script, served from its own origin: the
 * Content-Security-Policy allows no inline script or style.
 */
export const STYLE = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --accent: #2563eb; --bad: #dc2626; --good: #16a34a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
header strong { font-size: 1.1rem; }
header nav a { margin-right: 1rem; text-decoration: none; color: var(--accent); }
header nav a[aria-current] { font-weight: 600; color: inherit; }
header .store { color: var(--muted); margin-left: auto; font-size: .85rem; }
main, .controls { padding: 1rem 1.25rem; }
h1 { font-size: 1.25rem; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px/1.4 ui-monospace, monospace; }
pre.log { background: #1118270d; padding: .75rem; overflow: auto; max-height: 32rem; white-space: pre-wrap; }
.state { padding: 0 .4rem; border-radius: .3rem; border: 1px solid var(--line); }
.state-dead, .state-failed { color: var(--bad); }
.state-completed { color: var(--good); }
.muted { color: var(--muted); }
.flash { padding: .5rem .75rem; border: 1px solid var(--accent); margin: 1rem 1.25rem 0; }
.error { border-color: var(--bad); }
.badge { font-size: .8rem; border: 1px solid var(--muted); padding: 0 .4rem; border-radius: .3rem; }
form.inline { display: inline; }
button { font: inherit; cursor: pointer; }
.cards { display: flex; gap: .75rem; flex-wrap: wrap; }
.card { border: 1px solid var(--line); padding: .5rem .9rem; min-width: 7rem; }
.card b { display: block; font-size: 1.4rem; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-all; }
.pager { margin-top: .75rem; display: flex; gap: 1rem; }
svg.chart { width: 100%; max-width: 48rem; height: auto; }
`;

/**
 * Live updates: on each change event the page's live part is fetched again and swapped in.
 * Filters and dialogs live outside it, so a half-typed search survives; `confirm()` blocks the
 * page, so no update lands under an open confirmation.
 */
export const SCRIPT = `
(() => {
  const live = document.getElementById('live');
  document.addEventListener('submit', (event) => {
    const message = event.target.getAttribute('data-confirm');
    if (message && !window.confirm(message)) event.preventDefault();
  });
  if (!live || !window.EventSource) return;
  let pending = false, busy = false;
  async function refresh() {
    if (busy) { pending = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { 'X-Queuectl-Live': '1' }, credentials: 'same-origin' });
      if (response.ok) {
        live.innerHTML = await response.text();
        document.body.dataset.updated = String(Date.now());
      }
    } catch {}
    busy = false;
    if (pending) { pending = false; refresh(); }
  }
  const events = new EventSource('/events');
  events.addEventListener('change', refresh);
})();
`;
