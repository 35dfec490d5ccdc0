import { html, type Html } from './html.ts';

/** What every page needs to know about the server that renders it. */
export interface PageContext {
  /** The per-run token every form posts back. */
  csrf: string;
  readOnly: boolean;
  store: string;
  /** The path and query of this page: where an action returns to. */
  self: string;
  now: Date;
}

const NAV = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/dlq', 'Dead letter queue'],
] as const;

/**
 * A whole page. `live` is the part that server-sent events refresh; `controls` (filters) and
 * the message after an action stay outside it, so neither is replaced under the user.
 */
export function page(ctx: PageContext, title: string, nav: string, live: Html, options: { controls?: Html; flash?: string | null } = {}): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · queuectl</title><link rel="stylesheet" href="/app.css"></head>
<body>
<header><strong>queuectl</strong><nav>${NAV.map(([href, label]) => html`<a href="${href}"${href === nav ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
${ctx.readOnly ? html`<span class="badge">read-only</span>` : ''}<span class="store">${ctx.store}</span></header>
${options.controls ?? ''}
${options.flash ? html`<p class="flash" role="status">${options.flash}</p>` : ''}
<main id="live">${live}</main>
<script src="/app.js"></script>
</body></html>
`;
}

/**
 * A button that posts one action. Without JavaScript it posts straight away; with it,
 * `confirm` asks first. Nothing is shown on a read-only dashboard.
 */
export function actionButton(ctx: PageContext, action: string, label: string, fields: Record<string, string> = {}, confirm?: string): Html {
  if (ctx.readOnly) return html``;
  return html`<form class="inline" method="post" action="/actions/${action}"${confirm ? html` data-confirm="${confirm}"` : ''}>
<input type="hidden" name="_token" value="${ctx.csrf}"><input type="hidden" name="back" value="${ctx.self}">${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit">${label}</button></form>`;
}

export function stateBadge(state: string): Html {
  return html`<span class="state state-${state}">${state}</span>`;
}
