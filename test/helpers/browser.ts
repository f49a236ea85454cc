import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWorker, type WorkerProcess } from './worker.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const SCREENSHOTS = join(root, 'test-results', 'screenshots');

/** Debian's Chromium, headless, with nothing that reaches past loopback (DESIGN §3). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface Dashboard extends WorkerProcess {
  url: string;
}

/** `outpost worker --dashboard …`; resolves once it printed the URL with its token. */
export async function startDashboard(opts: Parameters<typeof startWorker>[0] = {}): Promise<Dashboard> {
  const worker = startWorker({ ...opts, args: ['--dashboard', ...(opts.args ?? [])] });
  await worker.waitForOutput(/Dashboard: (http:\S+)/);
  return { ...worker, url: /Dashboard: (http:\S+)/.exec(worker.output())![1]! };
}

/** The view at 1280×800 in the light and the dark theme: test-results/screenshots/<name>-light.png, -dark.png. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${colorScheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
