/**
 * What any request must pass before it reaches a page or an action. Any web page the user
 * visits can send requests to 127.0.0.1, so:
 * - `Host` must name this server (a DNS-rebinding page sends its own name);
 * - off loopback, every request carries the access token printed with the URL (as a cookie once
 *   the first visit set it);
 * - a change is a POST, from a page of this server (Sec-Fetch-Site / Origin), carrying this
 *   run's form token;
 * - a read-only dashboard refuses every change here, not only in the page.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const ACCESS_COOKIE = 'queuectl_access';

export interface GuardOptions {
  host: string;
  port: number;
  readOnly: boolean;
  /** Required on every request when set (a non-loopback --host). */
  accessToken: string | null;
  csrf: string;
}

export class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export function randomToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The names this server answers to, with its port. */
export function allowedHosts(options: GuardOptions): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  names.add(options.host.includes(':') ? `[${options.host}]` : options.host);
  return new Set([...names].map((name) => `${name}:${options.port}`.toLowerCase()));
}

export function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** Checks that hold for every request. Returns whether the access token came in the URL. */
export function checkRequest(request: IncomingMessage, url: URL, options: GuardOptions, hosts: Set<string>): { tokenInUrl: boolean } {
  const host = (request.headers.host ?? '').toLowerCase();
  if (!hosts.has(host)) throw new Refusal(421, `this dashboard does not answer to the host "${request.headers.host ?? ''}"; open it as http://127.0.0.1:${options.port}/`);
  if (options.accessToken === null) return { tokenInUrl: false };
  const fromUrl = url.searchParams.get('token') ?? undefined;
  if (sameToken(fromUrl, options.accessToken)) return { tokenInUrl: true };
  if (sameToken(cookie(request, ACCESS_COOKIE), options.accessToken)) return { tokenInUrl: false };
  throw new Refusal(401, 'this dashboard needs its access token: open the URL it printed when it started, with ?token=…');
}

/** Checks for a request that changes something, once its form fields are read. */
export function checkChange(request: IncomingMessage, options: GuardOptions, hosts: Set<string>, fields: URLSearchParams): void {
  if (options.readOnly) throw new Refusal(403, 'this dashboard is read-only (started with --read-only): nothing can be changed from it');
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new Refusal(403, `refused a change requested by another site (Sec-Fetch-Site: ${site})`);
  const origin = request.headers.origin;
  if (origin !== undefined && !(origin.startsWith('http://') && hosts.has(origin.slice('http://'.length).toLowerCase()))) {
    throw new Refusal(403, `refused a change requested from another origin (${origin})`);
  }
  if (!sameToken(fields.get('_token') ?? undefined, options.csrf)) throw new Refusal(403, 'the form token is missing or stale: reload the page and try again');
}
