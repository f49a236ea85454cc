import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
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

/** Stop them all at once: a second SIGTERM stops sessions now rather than draining them. */
export async function stopDashboards(dashboards: Dashboard[]): Promise<void> {
  for (const d of dashboards) {
    d.signal('SIGTERM');
    d.signal('SIGTERM');
    await d.exited;
  }
}

/**
 * The view at 1280×800 in the light and the dark theme: test-results/screenshots/<name>-light.png,
 * -dark.png; and in each theme, axe-core finds no serious or critical problem in it.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${colorScheme}.png`) });
    const problems = await accessibilityProblems(page);
    if (problems.length) throw new Error(`${name} (${colorScheme}): axe-core found\n${problems.join('\n')}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now, in words. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through DevTools, not a <script>: the page's CSP (no inline script) stays as it is.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

/** Console errors and failed loads of a page (a CSP violation is a console error), collected from now on. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  return errors;
}

/**
 * Tab (or Shift+Tab) until `target` has the focus, as a keyboard-only user would, and check
 * that the focus ring shows; fails when it is not reachable in `limit` presses.
 */
export async function tabTo(page: Page, target: Locator, { back = false, limit = 40 } = {}): Promise<void> {
  const element = await target.elementHandle();
  for (let i = 0; i < limit; i++) {
    if (await page.evaluate((el) => document.activeElement === el, element)) {
      const ring = await target.evaluate((el) => {
        const s = getComputedStyle(el);
        return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), visible: el.matches(':focus-visible') };
      });
      if (!ring.visible || ring.style === 'none' || ring.width < 2) throw new Error(`no visible focus ring on ${String(target)}: ${JSON.stringify(ring)}`);
      return;
    }
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${String(target)} is not reachable with the keyboard`);
}
