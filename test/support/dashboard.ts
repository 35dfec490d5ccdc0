/** A `queuectl dashboard` process in a sandbox, and plain HTTP requests to it (any Host, any header). */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { BIN, cleanEnv } from './cli.ts';
import type { Sandbox } from './supervisor-sandbox.ts';
import { waitFor } from './wait.ts';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface DashboardProcess {
  child: ChildProcess;
  url: URL;
  stderr: () => string;
  request(path: string, options?: { method?: string; headers?: Record<string, string>; form?: Record<string, string> }): Promise<Reply>;
  /** The form token of a page that has a form (a dead job's page, the DLQ with dead jobs). */
  token(path?: string): Promise<string>;
  stop(): Promise<number | null>;
}

export async function startDashboard(sandbox: Sandbox, ...args: string[]): Promise<DashboardProcess> {
  const child = spawn(process.execPath, [BIN, 'dashboard', '--port', '0', ...args], { cwd: sandbox.dir, env: cleanEnv({ E2E_SANDBOX: sandbox.tag }) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const line = await waitFor(() => /^http:\/\/\S+/m.exec(stdout)?.[0], { timeout: 15_000, what: `the dashboard's URL (stderr: ${stderr})` });
  const url = new URL(line);
  const request: DashboardProcess['request'] = (path, options = {}) =>
    new Promise((resolve, reject) => {
      const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
      const headers: Record<string, string> = { Host: url.host, ...(body === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' }), ...options.headers };
      const req = http.request({ host: '127.0.0.1', port: url.port, path, method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    child,
    url,
    stderr: () => stderr,
    request,
    token: async (path = '/dlq') => {
      const page = await request(path);
      const token = /name="_token" value="([^"]+)"/.exec(page.body)?.[1];
      if (!token) throw new Error(`no form token on ${path}: ${page.body.slice(0, 500)}`);
      return token;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGINT');
      }),
  };
}
