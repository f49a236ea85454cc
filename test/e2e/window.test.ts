import assert from 'node:assert/strict';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { consoleErrors, launchChromium, screenshots, startDashboard, tabTo, type Dashboard, stopDashboards } from '../helpers/browser.js';
import { outpostContainers } from '../helpers/docker.js';
import { waitFor } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

/**
 * The window, in Debian's Chromium, served by the real headless dashboard (`outpost worker
 * --dashboard`): the real core, the real keychain and Docker, the playground as the API.
 */
describe('the window', { timeout: 240_000 }, () => {
  let playground: AnthropicPlayground;
  let browser: Browser;
  const dashboards: Dashboard[] = [];
  const measured: string[] = [];

  before(async () => {
    playground = new AnthropicPlayground({ leaseTtlSeconds: 10 });
    await playground.start();
    browser = await launchChromium();
  });

  after(async () => {
    await stopDashboards(dashboards);
    await browser?.close();
    await playground?.close();
    if (measured.length) process.stdout.write(`\n# ${measured.join('\n# ')}\n`);
  });

  /** Every page's console errors and failed loads (a CSP violation is one): each test ends with none. */
  const errorsOf = new Map<Page, string[]>();
  const open = async (dashboard: Dashboard): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
    errorsOf.set(page, consoleErrors(page));
    await page.goto(dashboard.url);
    return page;
  };
  const noConsoleErrors = (page: Page) => assert.deepEqual(errorsOf.get(page), [], 'console errors');
  /** Whether line n (1-based) is on screen from its top to its bottom. */
  const fullyVisible = (page: Page, n: number) =>
    page.evaluate((n) => {
      const row = document.querySelector(`.line[data-line="${n}"]`);
      const log = document.querySelector<HTMLElement>('[data-testid="log-scroller"]')!;
      if (!row) return false;
      const r = row.getBoundingClientRect();
      const top = log.getBoundingClientRect().top + log.clientTop;
      return r.top >= top - 0.5 && r.bottom <= top + log.clientHeight + 0.5;
    }, n);

  it('first run: key, environment, start; a queued session shows running, then finished, with its log and files', async () => {
    // Its own keychain entries: never the developer's own Outpost keys.
    const keychain = { OUTPOST_KEYCHAIN_SERVICE: `Outpost-e2e-${process.pid}` };
    const dashboard = await startDashboard({ env: keychain });
    dashboards.push(dashboard);
    const page = await open(dashboard);
    // Everything the core tells the page: no key may ever be in it.
    const received: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => received.push(String(payload))));

    await page.getByRole('heading', { name: 'Set up Outpost' }).waitFor();
    // The first run, by keyboard alone: Tab to each control (its focus ring showing), type, Enter.
    const keys = page.keyboard;
    await tabTo(page, page.getByLabel('API key'));
    await keys.type('sk-ant-api03-not-the-right-key');
    await tabTo(page, page.getByText('Advanced'));
    await keys.press('Enter');
    await tabTo(page, page.getByLabel('API URL'));
    await keys.press('ControlOrMeta+A');
    await keys.type(playground.url);
    await screenshots(page, 'setup-key');
    await tabTo(page, page.getByRole('button', { name: 'Connect' }));
    await keys.press('Enter');
    // A wrong key is refused in the API's own words.
    await page.getByRole('alert').filter({ hasText: 'The API refused this key (401 authentication_error' }).waitFor();

    await tabTo(page, page.getByLabel('API key'), { back: true });
    await keys.press('ControlOrMeta+A');
    await keys.type(playground.apiKey);
    await keys.press('Enter');
    await tabTo(page, page.getByLabel('New self-hosted environment'));
    await keys.type('e2e-laptop');
    await screenshots(page, 'setup-environment');
    await keys.press('Enter');
    const environment = (await waitFor('the environment created from the window', () => [...playground.environments.values()].find((e) => e.name === 'e2e-laptop')))!;
    const environmentKey = playground.issueEnvironmentKey(environment.id);
    await tabTo(page, page.getByLabel('Environment key'));
    await keys.type(environmentKey);
    // Loopback only in tests (DESIGN §3): the container reaches the playground on 127.0.0.1.
    await tabTo(page, page.getByLabel('Container network'));
    assert.equal(await page.getByLabel('Container network').inputValue(), 'allowlist', 'a new environment starts on the allowlist');
    for (let i = 0; i < 6 && (await page.getByLabel('Container network').inputValue()) !== 'host'; i++) await keys.press('ArrowDown');
    assert.equal(await page.getByLabel('Container network').inputValue(), 'host');
    await screenshots(page, 'setup-start');
    await tabTo(page, page.getByRole('button', { name: 'Start serving' }));
    await keys.press('Enter');
    await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 30_000);

    const { work } = playground.createSession(environment.id, {
      calls: [
        // Coloured output in the container's log: the runner logs each call with its command's first line, escapes and all.
        { name: 'bash', input: { command: ': \u001b[32mall green\u001b[0m; sleep 4; echo done' } },
        { name: 'write', input: { file_path: '/workspace/report.txt', content: 'made in the sandbox\n' } },
      ],
    });
    const running = page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${work.id}"]`);
    await running.getByText('running').waitFor({ timeout: 60_000 });
    await waitFor('CPU and memory of the container', async () => (await running.locator('td').nth(5).textContent())?.includes('iB'), 20_000);
    await screenshots(page, 'work-running');

    const finished = page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${work.id}"]`);
    await finished.getByText('✓ finished').waitFor({ timeout: 60_000 });
    await screenshots(page, 'work-history');
    await finished.getByRole('button', { name: 'Logs' }).click();
    await page.getByTestId('log-scroller').getByText('tool write', { exact: false }).first().waitFor();
    // The ANSI colour arrives as a class, not as escape codes.
    await page.locator('.fg-ansi-green', { hasText: 'all green' }).waitFor();
    await screenshots(page, 'session-log');
    // Follow / pause, copy and download from the keyboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    const followButton = page.getByRole('button', { name: /Following|Paused/ });
    await tabTo(page, followButton);
    await keys.press('Enter');
    assert.equal(await followButton.getAttribute('aria-pressed'), 'false');
    await keys.press('Space');
    assert.equal(await followButton.getAttribute('aria-pressed'), 'true');
    await tabTo(page, page.getByRole('button', { name: 'Copy' }));
    await keys.press('Enter');
    await page.getByRole('status').filter({ hasText: /Copied \d+ lines/ }).waitFor();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /all green/);
    await tabTo(page, page.getByRole('button', { name: 'Download' }));
    const [logDownload] = await Promise.all([page.waitForEvent('download'), keys.press('Enter')]);
    const logCopy = join(mkdtempSync(join(tmpdir(), 'outpost-e2e-')), 'session.log');
    await logDownload.saveAs(logCopy);
    assert.match(readFileSync(logCopy, 'utf8'), /all green/);

    await page.getByRole('button', { name: '← Back' }).click();
    await finished.getByRole('button', { name: 'Files' }).click();
    const file = page.getByRole('row').filter({ hasText: 'report.txt' });
    await screenshots(page, 'workspace');
    const [download] = await Promise.all([page.waitForEvent('download'), file.getByRole('button', { name: 'Download' }).click()]);
    const saved = join(mkdtempSync(join(tmpdir(), 'outpost-e2e-')), 'report.txt');
    await download.saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), 'made in the sandbox\n');

    await page.getByRole('button', { name: 'Environments' }).click();
    const row = page.getByRole('row').filter({ hasText: environment.id });
    await row.getByText('served here').waitFor();
    await page.getByTestId(`stats-${environment.id}`).getByText('1 worker').waitFor({ timeout: 15_000 });
    await screenshots(page, 'environments');
    await tabTo(page, row.getByRole('button', { name: 'Settings' }));
    await keys.press('Enter');
    await page.getByRole('form', { name: `Settings for ${environment.id}` }).waitFor();
    await screenshots(page, 'environment-settings');
    await tabTo(page, page.getByRole('button', { name: 'Cancel' }));
    await keys.press('Enter');
    await page.getByRole('form', { name: `Settings for ${environment.id}` }).waitFor({ state: 'detached' });
    // Create one, then archive it: only after saying yes in the confirmation.
    await page.getByLabel('New self-hosted environment').fill('e2e-scratch');
    await page.getByRole('button', { name: 'Create' }).click();
    const scratch = page.getByRole('row').filter({ hasText: 'e2e-scratch' });
    await scratch.getByRole('button', { name: 'Archive' }).click();
    await screenshots(page, 'environments-archive');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal([...playground.environments.values()].find((e) => e.name === 'e2e-scratch')?.archived_at, null);
    await scratch.getByRole('button', { name: 'Archive' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Archive' }).click();
    await scratch.waitFor({ state: 'detached' });
    await page.getByLabel('Show archived').check();
    await scratch.getByText('archived').waitFor();
    // Desktop notifications: on by default; off from the keyboard, and kept in the settings.
    const notifications = page.getByLabel(/Desktop notifications/);
    assert.equal(await notifications.isChecked(), true);
    await tabTo(page, notifications);
    await keys.press('Space');
    const notifying = () => (JSON.parse(readFileSync(join(dashboard.dataDir, 'settings.json'), 'utf8')) as { desktopNotifications?: boolean }).desktopNotifications;
    await waitFor('the setting saved off', () => notifying() === false, 10_000);
    await waitFor('the box unticked', async () => !(await notifications.isChecked()), 5_000);
    // Claim nothing on battery: off by default; on from the keyboard, and kept.
    const onBattery = page.getByLabel(/Claim nothing on battery/);
    assert.equal(await onBattery.isChecked(), false);
    await tabTo(page, onBattery);
    await keys.press('Space');
    await waitFor('claim nothing on battery saved on', () => JSON.parse(readFileSync(join(dashboard.dataDir, 'settings.json'), 'utf8')).pauseOnBattery === true, 10_000);

    await page.getByRole('button', { name: 'App log' }).click();
    await page.getByTestId('log-scroller').getByText('worker online', { exact: false }).first().waitFor();
    await screenshots(page, 'app-log');

    assert.ok(received.length > 10);
    for (const secret of [playground.apiKey, environmentKey]) {
      assert.ok(!received.some((frame) => frame.includes(secret)), 'a key reached the page');
      assert.ok(!dashboard.output().includes(secret), 'a key reached the log');
    }
    assert.ok(!(await page.content()).includes(playground.apiKey));
    noConsoleErrors(page);

    // History survives a restart of Outpost.
    dashboard.signal('SIGTERM');
    assert.equal(await dashboard.exited, 0);
    const again = await startDashboard({ dataDir: dashboard.dataDir, env: keychain });
    dashboards.push(again);
    const reopened = await open(again);
    await reopened.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${work.id}"]`).getByText('finished').waitFor();
    noConsoleErrors(reopened);
    await reopened.close();
    await page.close();
  });

  it('Stop on a running item stops its container; turning the worker off drains', async () => {
    const { environment, environmentKey } = playground.createEnvironment('e2e-stop');
    const dashboard = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--grace-seconds', '2'] });
    dashboards.push(dashboard);
    const page = await open(dashboard);
    await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 30_000);

    const stubborn = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 120' } }] });
    const row = page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${stubborn.work.id}"]`);
    await row.getByText('running').waitFor({ timeout: 60_000 });
    // Its container: named for it (a warm container is renamed when handed the item), or labelled with it (a cold start).
    const itsContainers = async () =>
      (await outpostContainers(dashboard.installId())).filter((c) => c.Labels['outpost.work_id'] === stubborn.work.id || c.Names.some((n) => n.startsWith(`/outpost-${stubborn.work.id}-`)));
    assert.equal((await itsContainers()).length, 1);
    // By keyboard alone: open the running session's log, search it, come back, stop it.
    const keys = page.keyboard;
    await tabTo(page, row.getByRole('button', { name: 'Logs' }));
    await keys.press('Enter');
    await page.getByTestId('log-scroller').getByText('serving session', { exact: false }).first().waitFor({ timeout: 20_000 });
    await tabTo(page, page.getByLabel('Search the log'), { back: true });
    await keys.type('serving session');
    await keys.press('Enter');
    await page.getByTestId('search-result').getByText(/^1 of 1 · line \d+/).waitFor();
    await tabTo(page, page.getByRole('button', { name: 'Next match' }));
    await keys.press('Enter');
    await tabTo(page, page.getByRole('button', { name: '← Back' }), { back: true });
    await keys.press('Enter');
    await waitFor('CPU and memory of the container', async () => (await row.locator('td').nth(5).textContent())?.includes('iB'), 20_000);
    await tabTo(page, row.getByRole('button', { name: 'Stop' }));
    await keys.press('Enter');
    // CPU and memory hold their last reading while the container stops: never a flicker to "—".
    const readings: string[] = [];
    while ((await row.count()) > 0) readings.push(...(await row.locator('td').nth(4).allTextContents()), ...(await row.locator('td').nth(5).allTextContents()));
    assert.ok(readings.length > 0 && !readings.includes('—'), `CPU / memory while stopping: ${readings.join(' ')}`);
    const stoppedRow = page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${stubborn.work.id}"]`);
    // Stopped by the user, in its own words: not "finished".
    await stoppedRow.getByText('■ stopped by you').waitFor({ timeout: 30_000 });
    assert.equal(await stoppedRow.locator('[data-end]').getAttribute('data-end'), 'stopped-by-user');
    await waitFor('the container removed', async () => (await itsContainers()).length === 0, 20_000);
    assert.equal(playground.record(stubborn.work.id).item.state, 'stopped');

    const slow = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 4; echo finished in time' } }] });
    await page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${slow.work.id}"]`).getByText('running').waitFor({ timeout: 60_000 });
    await tabTo(page, page.getByRole('switch', { name: 'Worker' }), { back: true });
    await keys.press('Space');
    await waitFor('Draining', async () => (await page.getByTestId('worker-status').textContent()) === 'Draining', 10_000);
    await screenshots(page, 'work-draining');
    await waitFor('Off', async () => (await page.getByTestId('worker-status').textContent()) === 'Off', 60_000);
    // Drained, not cut short: the session's tool call ran to the end.
    assert.match(playground.sessions.results(slow.sessionId).map((r) => r.text).join(''), /finished in time/);
    assert.equal((await outpostContainers(dashboard.installId())).length, 0);
    noConsoleErrors(page);
    await page.close();
  });

  it('opens, scrolls and searches a 1,000,000-line log smoothly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-e2e-log-'));
    mkdirSync(join(dataDir, 'logs', 'sessions'), { recursive: true });
    const workId = 'work_onemillion';
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(sessionFiles(dataDir, 'env_x', workId).log);
      out.on('error', reject);
      let chunk = '';
      for (let i = 1; i <= 1_000_000; i++) {
        chunk += i === 999_990 ? `line ${i} the needle-in-the-haystack\n` : `line ${i} \u001b[36mtool\u001b[0m bash ok: nothing to see here\n`;
        if (i % 50_000 === 0) {
          out.write(chunk);
          chunk = '';
        }
      }
      out.end(resolve);
    });
    // Every SGR colour and decoration a log commonly holds, one kind to a line.
    const sgr = (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m`;
    const fgCodes = [...Array(8).keys()].flatMap((i) => [30 + i, 90 + i]);
    const bgCodes = [...Array(8).keys()].flatMap((i) => [40 + i, 100 + i]);
    const palette = [
      fgCodes.map((c) => sgr(String(c), `fg${c}`)).join(' '),
      bgCodes.map((c) => sgr(String(c), `bg${c}`)).join(' '),
      [sgr('38;5;208', 'p208'), sgr('48;5;24', 'q24'), sgr('38;2;255;128;0', 'tc'), sgr('48;2;10;60;120', 'tb')].join(' '),
      [sgr('1', 'bold'), sgr('3', 'italic'), sgr('4', 'underline'), sgr('7', 'inverse'), sgr('2', 'dim'), sgr('9', 'strike')].join(' '),
    ];
    writeFileSync(sessionFiles(dataDir, 'env_x', 'work_palette').log, palette.join('\n') + '\n');
    const now = Date.now();
    const entry = { workId, environmentId: 'env_x', kind: 'session', subjectId: 'sesn_onemillion', status: 'finished', claimedAt: now - 60_000, endedAt: now, reason: 'session ended', hasLog: true };
    const paletteEntry = { ...entry, workId: 'work_palette', subjectId: 'sesn_palette', claimedAt: now - 5000, endedAt: now - 1000 };
    // Every way an item ends, each in its own words in the history.
    const endings = [
      ['failed', 'exited 2'],
      ['finished', 'stopped: by the user'],
      ['finished', 'stopped by the control plane (state stopping)'],
      ['lost', 'lease lost: the control plane says another worker holds it (412)'],
      ['finished', 'timeout exceeded'],
    ].map(([status, reason], i) => ({ ...entry, workId: `work_end${i}`, subjectId: `sesn_end${i}`, status, reason, hasLog: false, endedAt: now - 10_000 - i }));
    writeFileSync(join(dataDir, 'history.jsonl'), [paletteEntry, ...endings, entry].map((e) => JSON.stringify(e) + '\n').join(''));
    const { environment, environmentKey } = playground.createEnvironment('e2e-log');
    const dashboard = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, dataDir });
    dashboards.push(dashboard);
    const page = await open(dashboard);

    const history = page.getByRole('table', { name: 'History' });
    for (const [i, words] of ['✕ failed', '■ stopped by you', '■ stopped by the control plane', '? lost', '◷ timed out'].entries()) await history.locator(`tr[data-work-id="work_end${i}"]`).getByText(words).waitFor();
    await screenshots(page, 'history-endings');

    // The palette: every code rendered, through the CSSOM (the CSP allows it; the console stays clean), in both themes.
    await history.locator('tr[data-work-id="work_palette"]').getByRole('button', { name: 'Logs' }).click();
    await page.locator('.line[data-line="4"]').getByText('strike').waitFor();
    await screenshots(page, 'log-palette');
    for (const dark of [false, true]) {
      await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
      // The theme switch reaches React through a matchMedia listener: wait for its render.
      await page.waitForFunction((dark) => document.querySelector('.fg-exact')?.closest('.log') && getComputedStyle(document.querySelector('.fg-exact')!).color === 'rgb(255, 135, 0)' === dark, dark);
      const look = await page.evaluate(() => {
        const out: Record<string, { color: string; background: string; weight: string; style: string; decoration: string; opacity: string }> = {};
        for (const el of Array.from(document.querySelectorAll<HTMLElement>('.log .text span'))) {
          const s = getComputedStyle(el);
          out[el.textContent!.trim()] = { color: s.color, background: s.backgroundColor, weight: s.fontWeight, style: s.fontStyle, decoration: s.textDecorationLine, opacity: s.opacity };
        }
        const log = getComputedStyle(document.querySelector('.log')!);
        return { out, text: log.color, logBg: log.backgroundColor };
      });
      const theme = dark ? 'dark' : 'light';
      const fg = fgCodes.map((c) => look.out[`fg${c}`]!.color);
      assert.equal(new Set([...fg, look.text]).size, 17, `${theme}: 16 distinct foregrounds, none the default: ${fg.join(' ')}`);
      const bg = bgCodes.map((c) => look.out[`bg${c}`]!.background);
      assert.equal(new Set([...bg, 'rgba(0, 0, 0, 0)', look.logBg]).size, 18, `${theme}: 16 distinct backgrounds: ${bg.join(' ')}`);
      // 256 colours and truecolor: the exact colour where it is readable (dark), else the nearest readable one of the same hue.
      const hue = (rgb: string) => rgb.match(/\d+/g)!.map(Number);
      for (const [key, exact, prop] of [['p208', 'rgb(255, 135, 0)', 'color'], ['tc', 'rgb(255, 128, 0)', 'color'], ['q24', 'rgb(0, 95, 135)', 'background'], ['tb', 'rgb(10, 60, 120)', 'background']] as const) {
        const got = look.out[key]![prop];
        if (dark) assert.equal(got, exact, key);
        else {
          const [r, g, b] = hue(got) as [number, number, number];
          const [er, eg, eb] = hue(exact) as [number, number, number];
          assert.ok(Math.sign(r - g) === Math.sign(er - eg) && Math.sign(g - b) === Math.sign(eg - eb), `${key}: ${got} keeps the hue of ${exact}`);
        }
      }
      assert.equal(look.out['bold']!.weight, '700');
      assert.equal(look.out['italic']!.style, 'italic');
      assert.equal(look.out['underline']!.decoration, 'underline');
      assert.equal(look.out['strike']!.decoration, 'line-through');
      assert.equal(look.out['dim']!.opacity, '0.75');
      assert.deepEqual([look.out['inverse']!.color, look.out['inverse']!.background], [look.logBg, look.text], `${theme}: inverse swaps text and background`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByRole('button', { name: '← Back' }).click();

    let started = Date.now();
    await history.locator(`tr[data-work-id="${workId}"]`).getByRole('button', { name: 'Logs' }).click();
    await page.getByTestId('line-count').getByText('1,000,000 lines').waitFor();
    await page.locator('.line[data-line="1000000"]').waitFor();
    const openMs = Date.now() - started;
    // Scaled (18 M px of lines past the browser's cap), and still every line fully reachable.
    assert.equal(await page.getByTestId('log-scroller').getAttribute('data-scaled'), 'true');
    await waitFor('the last line fully visible when following', () => fullyVisible(page, 1_000_000), 5000);

    const scroller = page.getByTestId('log-scroller');
    started = Date.now();
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
    await page.locator('.line .text', { hasText: /^line 5\d{5} / }).first().waitFor();
    const scrollMs = Date.now() - started;
    // Virtualised: a screenful of lines in the DOM, never the log.
    assert.ok((await page.locator('.line').count()) < 100);

    started = Date.now();
    await page.getByLabel('Search the log').fill('needle-in-the-haystack');
    await page.getByLabel('Search the log').press('Enter');
    await page.getByTestId('search-result').getByText('1 of 1').waitFor();
    await page.locator('.line.current[data-line="999990"]').waitFor();
    const searchMs = Date.now() - started;
    assert.ok(await fullyVisible(page, 999_990), 'the match fully visible');
    await screenshots(page, 'log-one-million');

    // Keyboard: Home, End, PageUp / PageDown, arrows; each lands with its lines whole.
    const key = async (k: string) => {
      await page.keyboard.press(k);
      await page.waitForTimeout(50);
    };
    await tabTo(page, scroller);
    await key('Home');
    assert.ok(await fullyVisible(page, 1), 'Home: line 1');
    await key('PageDown');
    const pageLines = await page.evaluate(() => Math.floor(document.querySelector<HTMLElement>('[data-testid="log-scroller"]')!.clientHeight / 18));
    assert.ok(await fullyVisible(page, pageLines), 'PageDown: the old last line now at the top');
    await key('ArrowDown');
    assert.ok(!(await fullyVisible(page, pageLines)) && (await fullyVisible(page, pageLines + 1)), 'ArrowDown: one line');
    await key('End');
    await page.locator('.line[data-line="1000000"]').waitFor();
    assert.ok(await fullyVisible(page, 1_000_000), 'End: the last line whole');
    await screenshots(page, 'log-end');
    await key('ArrowUp');
    assert.ok((await fullyVisible(page, 999_999)) && !(await fullyVisible(page, 1_000_000)), 'ArrowUp from the end: one line back');
    await key('PageUp');
    assert.ok(await fullyVisible(page, 999_999 - pageLines + 1), 'PageUp');
    // The wheel: a notch up from the end and back down; then past the end stays on it.
    await scroller.hover();
    await key('End');
    await page.mouse.wheel(0, -100);
    await waitFor('a wheel notch up', async () => !(await fullyVisible(page, 1_000_000)), 2000);
    await page.mouse.wheel(0, 5000);
    await waitFor('wheeled back to the last line', () => fullyVisible(page, 1_000_000), 2000);
    assert.ok(await fullyVisible(page, 1_000_000 - pageLines + 1), 'the screen full of lines to the last');

    // The window remembers: the view, paused (the search moved away from the end), the search term.
    // (A new document: the URL alone differs only in its fragment, which would not reload.)
    await page.goto('about:blank');
    await page.goto(dashboard.url);
    await page.getByTestId('line-count').getByText('1,000,000 lines').waitFor();
    assert.equal(await page.getByLabel('Search the log').inputValue(), 'needle-in-the-haystack');
    await page.getByTestId('search-result').getByText('1 of 1').waitFor();
    assert.equal(await page.getByRole('button', { name: /Following|Paused/ }).getAttribute('aria-pressed'), 'false');
    await waitFor('paused: it opens at the start', () => fullyVisible(page, 1), 5000);
    noConsoleErrors(page);
    const mib = Math.round(statSync(sessionFiles(dataDir, 'env_x', workId).log).size / 2 ** 20);
    measured.push(`1,000,000-line log (${mib} MiB): open to last line ${openMs} ms, jump to the middle ${scrollMs} ms, search to the match near the end ${searchMs} ms`);
    await page.close();
  });

  it('the dashboard serves its page without the token, and data only over a WebSocket that presents it: not a cookie, not the query', async () => {
    const dashboard = dashboards.at(-1)!;
    const { port, hash } = new URL(dashboard.url);
    const token = new URLSearchParams(hash.slice(1)).get('token')!;
    assert.ok(token, 'the printed URL carries the token in its fragment');
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; setCookie: unknown }>((resolve, reject) =>
        request({ host: '127.0.0.1', port, path, headers }, (res) => (res.resume(), resolve({ status: res.statusCode!, setCookie: res.headers['set-cookie'] }))).on('error', reject).end(),
      );
    // The page itself holds no secret; it never hands out a cookie.
    assert.deepEqual(await get('/'), { status: 200, setCookie: undefined });
    assert.equal((await get(`/?token=${token}`)).setCookie, undefined);
    assert.equal((await get('/', { host: `attacker.example:${port}` })).status, 421);
    assert.equal((await get('/', { origin: 'http://attacker.example' })).status, 403);

    const own = `http://127.0.0.1:${port}`;
    /** The handshake's status, and the contract's answer to worker.state when it opened. */
    const upgrade = (opts: { query?: string; origin?: string; protocols?: string[]; cookie?: string }) =>
      new Promise<{ status: number; reply?: string }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${opts.query ?? ''}`, opts.protocols ?? [], { origin: opts.origin ?? own, headers: opts.cookie ? { cookie: opts.cookie } : {} });
        ws.on('open', () => ws.send(JSON.stringify({ id: 1, channel: 'worker.state', arg: {} })));
        ws.on('message', (data) => {
          const reply = String(data);
          if (reply.includes('"id":1')) (ws.close(), resolve({ status: 101, reply }));
        });
        ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode! }));
        ws.on('error', () => resolve({ status: -1 }));
      });
    // Hostile: the old cookie, or the token in the query, and no token in the handshake: no data.
    assert.deepEqual(await upgrade({ cookie: `outpost_dashboard=${token}` }), { status: 401 });
    assert.deepEqual(await upgrade({ query: `?token=${token}` }), { status: 401 });
    assert.deepEqual(await upgrade({ protocols: ['outpost', 'outpost-token.wrong'] }), { status: 401 });
    assert.equal((await upgrade({ protocols: ['outpost', `outpost-token.${token}`], origin: 'http://attacker.example' })).status, 403);
    const good = await upgrade({ protocols: ['outpost', `outpost-token.${token}`] });
    assert.equal(good.status, 101);
    assert.match(good.reply!, /"result":\{"status"/);
  });

  it('in the browser, the token is in no cookie, not in the address bar after load, and in no request but the WebSocket handshake', async () => {
    const dashboard = dashboards.at(-1)!;
    const token = new URLSearchParams(new URL(dashboard.url).hash.slice(1)).get('token')!;
    // Another server on 127.0.0.1 — a dev server, a session's own under host networking: it must get nothing.
    const seenElsewhere: string[] = [];
    const other = createServer((req, res) => (seenElsewhere.push(JSON.stringify([req.url, req.headers])), res.end('another local server')));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
      const requests: string[] = [];
      // A request still in flight when the context closes has no headers left to read: it is past every check.
      page.on('request', (r) => void r.allHeaders().then((h) => requests.push(JSON.stringify([r.url(), h])), () => {}));
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(dashboard.url);
      await waitFor('the data shown: the served worker online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 30_000);
      assert.equal(sockets.length, 1, 'the data came over the WebSocket');
      assert.ok(!page.url().includes(token), `the address bar shows the token: ${page.url()}`);
      assert.ok(!(await page.evaluate(() => document.cookie)).includes(token), 'document.cookie holds the token');
      assert.deepEqual(await context.cookies(), [], 'the dashboard set a cookie');
      assert.ok(requests.length > 0);
      for (const r of requests) assert.ok(!r.includes(token), `a request carried the token: ${r}`);

      await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      await page.getByText('another local server').waitFor();
      assert.equal(seenElsewhere.length >= 1, true);
      for (const r of seenElsewhere) assert.ok(!r.includes(token), `another server on 127.0.0.1 got the token: ${r}`);

      // Back without the fragment (a reload, a bookmark): no data, and the page says how to get back in.
      await page.goto(new URL('/', dashboard.url).href);
      await page.getByText('Open the address that `outpost worker --dashboard` printed', { exact: false }).first().waitFor();
      assert.equal(sockets.length, 1, 'a page without the token opened a WebSocket');
    } finally {
      await context.close();
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
