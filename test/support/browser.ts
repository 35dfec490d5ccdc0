/**
 * Headless Chromium from the system's packages, driven by playwright-core. Never a downloaded
 * browser: where no Chromium is installed the browser tests are reported as skipped.
 */
import fs from 'node:fs';
import type { Browser } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((file): file is string => Boolean(file));

export const chromiumPath: string | null = CANDIDATES.find((file) => fs.existsSync(file)) ?? null;

export async function launchBrowser(userDataDir: string): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium installed');
  const { chromium } = await import('playwright-core');
  // The machine has no network beyond loopback: background services would only fail to connect.
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${userDataDir}`].filter((arg) => !arg.startsWith('--user-data-dir')),
  });
}
