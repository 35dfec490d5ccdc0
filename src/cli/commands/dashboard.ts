import { Option } from 'clipanion';
import { invalid } from '../../lifecycle/error.ts';
import { QueueCommand } from './base.ts';

export class DashboardCommand extends QueueCommand {
  static override paths = [['dashboard']];
  static override usage = QueueCommand.Usage({
    description: 'serve a web dashboard of the queue until Ctrl+C',
    details: `
      Serves pages that show the queue live (counts, supervisors, jobs, one job with its log, the
      dead letter queue) and act on it (retry, cancel, purge) through the same code as the CLI.
      It listens on 127.0.0.1 only, unless \`--host\` says otherwise; then the URL it prints
      carries an access token that every visitor needs. \`--read-only\` refuses every change.
    `,
    examples: [
      ['Serve it on http://127.0.0.1:8080/', '$0 dashboard'],
      ['Another port, and open a browser', '$0 dashboard --port 9000 --open'],
      ['Watch only: no button changes anything', '$0 dashboard --read-only'],
      ['Reachable from the network (with a token)', '$0 dashboard --host 0.0.0.0'],
    ],
  });

  port = Option.String('--port,-p', '8080', { description: 'the port to listen on (0: any free port)' });
  host = Option.String('--host', '127.0.0.1', { description: 'the address to listen on (default 127.0.0.1)' });
  readOnly = Option.Boolean('--read-only', false, { description: 'refuse every change' });
  open = Option.Boolean('--open', false, { description: 'open the dashboard in a browser' });

  async run() {
    if (!/^\d+$/.test(this.port) || Number(this.port) > 65535) throw invalid(`--port must be a whole number from 0 to 65535, got "${this.port}"`);
    const { startDashboard } = await import('../../dashboard/server.ts');
    const log = (line: string) => this.context.stderr.write(`${new Date().toISOString()} ${line}\n`);
    let dashboard;
    try {
      dashboard = await startDashboard({ store: this.store, host: this.host, port: Number(this.port), readOnly: this.readOnly, log });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw invalid(`port ${this.port} is in use; choose another with --port`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw invalid(`cannot listen on ${this.host}:${this.port} (${code})`);
      throw error;
    }
    this.out(dashboard.url);
    log(`dashboard for ${this.store.where}${this.readOnly ? ', read-only' : ''}; Ctrl+C stops it`);
    if (this.open) await this.launchBrowser(dashboard.url);
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
    });
    await dashboard.close();
    log('dashboard stopped');
  }

  private async launchBrowser(url: string): Promise<void> {
    const { spawn } = await import('node:child_process');
    const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => this.context.stderr.write(`queuectl: could not open a browser (${opener} failed); open ${url} yourself\n`));
    child.unref();
  }
}
