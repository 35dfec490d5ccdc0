/**
 * `queuectl dashboard`: an HTTP server for people on this machine. Pages are rendered on the
 * server and work without JavaScript; a small script swaps in fresh content on each server-sent
 * change event. Every request passes the guard first (guard.ts says why each check exists).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import os from 'node:os';
import { QueueError, type ErrorCode } from '../lifecycle/error.ts';
import { EXPOSITION_TYPE, renderMetrics } from '../lifecycle/exposition.ts';
import { gatherMetrics } from '../operations/metrics.ts';
import type { Store } from '../store/store.ts';
import { SCRIPT, STYLE } from './assets.ts';
import { FLASH_LIMIT, MAX_BODY_BYTES, SSE_HEARTBEAT_MS, SSE_RETRY_MS } from './knobs.ts';
import { ACCESS_COOKIE, allowedHosts, checkChange, checkRequest, isLoopback, randomToken, Refusal, type GuardOptions } from './guard.ts';
import { page, type PageContext } from './layout.ts';
import { ChangeSignal } from './live.ts';
import { errorPage } from './pages.ts';
import { act, view } from './routes.ts';

export interface DashboardOptions {
  store: Store;
  host: string;
  port: number;
  readOnly: boolean;
  log: (line: string) => void;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  // Not no-referrer: with it, browsers send `Origin: null` on our own forms' posts.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

const STATUS: Record<ErrorCode, number> = { 'invalid-input': 400, 'not-found': 404, conflict: 409, busy: 503, 'io-error': 500 };

function send(response: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { ...HEADERS, 'Content-Type': type, ...extra });
  response.end(body);
}

function readBody(request: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    if (!(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      reject(new Refusal(415, 'actions are posted as forms (application/x-www-form-urlencoded)'));
      return;
    }
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) reject(new Refusal(413, 'the request body is too large'));
    });
    request.on('end', () => resolve(new URLSearchParams(body)));
    request.on('error', reject);
  });
}

/** Where an action returns to: a path of this server, never another site. */
function backTo(raw: string | null): string {
  return raw && raw.startsWith('/') && !raw.startsWith('//') && !raw.includes('\\') ? raw : '/';
}

function localNames(host: string): string[] {
  if (isLoopback(host)) return [host];
  const addresses = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((item) => item.address));
  return [host, os.hostname(), ...addresses];
}

/**
 * The server-sent change events: each open page holds a stream, told of every change with a
 * revision number, and kept alive by a heartbeat.
 */
class ChangeStreams {
  private readonly streams = new Set<ServerResponse>();
  private readonly signal: ChangeSignal;
  private readonly heartbeat: NodeJS.Timeout;
  private revision = 0;

  constructor(store: Store) {
    this.signal = new ChangeSignal(store);
    this.signal.on(() => {
      this.revision++;
      for (const stream of this.streams) stream.write(`event: change\ndata: {"rev":${this.revision}}\n\n`);
    });
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.write(': still here\n\n');
    }, SSE_HEARTBEAT_MS);
  }

  open(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    response.write(`retry: ${SSE_RETRY_MS}\nevent: hello\ndata: {"rev":${this.revision}}\n\n`);
    this.streams.add(response);
    request.on('close', () => this.streams.delete(response));
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.signal.close();
    for (const stream of this.streams) stream.end();
  }
}

/** What every request is served with, set up once the server listens. */
interface Site {
  options: DashboardOptions;
  guard: GuardOptions;
  hosts: Set<string>;
  events: ChangeStreams;
  /** Actions' messages by the id their redirect carries (the newest FLASH_LIMIT), for the page shown next. */
  flashes: Map<string, string>;
}

/** A link that carries the access token sets the cookie, and sends the browser on without it. */
function signIn(site: Site, url: URL, response: ServerResponse): void {
  url.searchParams.delete('token');
  const cookie = `${ACCESS_COOKIE}=${site.guard.accessToken}; HttpOnly; SameSite=Strict; Path=/`;
  send(response, 303, 'text/plain; charset=utf-8', 'signed in', { Location: `${url.pathname}${url.search}`, 'Set-Cookie': cookie });
}

async function postAction(site: Site, request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> {
  const fields = await readBody(request);
  checkChange(request, site.guard, site.hosts, fields);
  const message = await act(site.options.store, url.pathname, fields, (line) => site.options.log(line));
  if (message === null) throw new Refusal(404, `no action at ${url.pathname}`);
  const id = randomToken().slice(0, 12);
  site.flashes.set(id, message);
  if (site.flashes.size > FLASH_LIMIT) site.flashes.delete(site.flashes.keys().next().value as string);
  const back = new URL(backTo(fields.get('back')), 'http://dashboard.invalid');
  back.searchParams.set('done', id);
  send(response, 303, 'text/plain; charset=utf-8', message, { Location: `${back.pathname}${back.search}` });
}

async function showPage(site: Site, request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> {
  const { options } = site;
  const done = url.searchParams.get('done');
  const self = `${url.pathname}${url.search.replace(/([?&])done=[^&]*&?/, '$1').replace(/[?&]$/, '')}`;
  const ctx: PageContext = { csrf: site.guard.csrf, readOnly: options.readOnly, store: options.store.where, self, now: options.store.now() };
  const shown = await view(options.store, ctx, url.pathname, url.searchParams);
  if (shown === null) throw new Refusal(404, `no page at ${url.pathname}`);
  const body = request.headers['x-queuectl-live'] === '1' ? shown.live.text : page(ctx, shown.title, shown.nav, shown.live, { controls: shown.controls, flash: done ? site.flashes.get(done) : null }).text;
  send(response, 200, 'text/html; charset=utf-8', body);
}

async function handle(site: Site, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
  const { tokenInUrl } = checkRequest(request, url, site.guard, site.hosts);
  if (tokenInUrl) return signIn(site, url, response);
  if (request.method === 'POST') return postAction(site, request, url, response);
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new Refusal(405, `${request.method} is not allowed here`);
  if (url.pathname === '/app.css') return send(response, 200, 'text/css; charset=utf-8', STYLE);
  if (url.pathname === '/app.js') return send(response, 200, 'text/javascript; charset=utf-8', SCRIPT);
  // A read like the pages: allowed with --read-only, behind the same Host check.
  if (url.pathname === '/metrics') return send(response, 200, EXPOSITION_TYPE, renderMetrics(await gatherMetrics(site.options.store)));
  if (url.pathname === '/favicon.ico') return send(response, 204, 'image/x-icon', '');
  if (url.pathname === '/events') return site.events.open(request, response);
  return showPage(site, request, url, response);
}

/** A refusal or a typed error is the user's to read; anything else is a bug, logged with its stack. */
function sendError(options: DashboardOptions, response: ServerResponse, error: unknown): void {
  const status = error instanceof Refusal ? error.status : error instanceof QueueError ? STATUS[error.code] : 500;
  const message = error instanceof Refusal || error instanceof QueueError ? error.message : 'internal error (a bug; the dashboard logged it)';
  if (status === 500 && !(error instanceof QueueError)) options.log(`internal error: ${(error as Error)?.stack ?? String(error)}`);
  if (response.headersSent) return void response.end();
  send(response, status, 'text/html; charset=utf-8', errorPage(status, message).text);
}

function listen(server: http.Server, options: DashboardOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const csrf = randomToken();
  const accessToken = isLoopback(options.host) ? null : randomToken();
  const events = new ChangeStreams(options.store);
  const server = http.createServer();
  await listen(server, options);
  const port = (server.address() as { port: number }).port;
  const guard: GuardOptions = { host: options.host, port, readOnly: options.readOnly, accessToken, csrf };
  const hosts = new Set(localNames(options.host).flatMap((name) => [...allowedHosts({ ...guard, host: name })]));
  const site: Site = { options, guard, hosts, events, flashes: new Map() };

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(site, request, response).catch((error: unknown) => sendError(options, response, error));
  });

  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/${accessToken ? `?token=${accessToken}` : ''}`,
    close: async () => {
      events.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
