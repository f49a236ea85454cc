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
import { launchChromium, screenshots, startDashboard, type Dashboard } from '../helpers/browser.js';
import { outpostContainers } from '../helpers/docker.js';
import { waitFor } from '../helpers/worker.js';

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
    for (const d of dashboards) {
      d.signal('SIGTERM');
      d.signal('SIGTERM');
      await d.exited;
    }
    await browser?.close();
    await playground?.close();
    if (measured.length) process.stdout.write(`\n# ${measured.join('\n# ')}\n`);
  });

  const open = async (dashboard: Dashboard): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
    await page.goto(dashboard.url);
    return page;
  };

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
    await page.getByText('Advanced').click();
    await page.getByLabel('API URL').fill(playground.url);
    await page.getByLabel('API key').fill('sk-ant-api03-not-the-right-key');
    await screenshots(page, 'setup-key');
    await page.getByRole('button', { name: 'Connect' }).click();
    // A wrong key is refused in the API's own words.
    await page.getByRole('alert').filter({ hasText: 'The API refused this key (401 authentication_error' }).waitFor();

    await page.getByLabel('API key').fill(playground.apiKey);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByLabel('New self-hosted environment').fill('e2e-laptop');
    await screenshots(page, 'setup-environment');
    await page.getByRole('button', { name: 'Create' }).click();
    const environment = (await waitFor('the environment created from the window', () => [...playground.environments.values()].find((e) => e.name === 'e2e-laptop')))!;
    const environmentKey = playground.issueEnvironmentKey(environment.id);
    await page.getByLabel('Environment key').fill(environmentKey);
    // Loopback only in tests (DESIGN §3): the container reaches the playground on 127.0.0.1.
    await page.getByLabel('Container network').selectOption('host');
    await page.getByRole('button', { name: 'Start serving' }).click();
    await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 30_000);

    const { work } = playground.createSession(environment.id, {
      calls: [
        // Coloured output straight into the container's log (the runner's stdout).
        { name: 'bash', input: { command: 'printf "\\033[32mall green\\033[0m\\n" > /proc/$PPID/fd/1; sleep 4; echo done' } },
        { name: 'write', input: { file_path: '/workspace/report.txt', content: 'made in the sandbox\n' } },
      ],
    });
    const running = page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${work.id}"]`);
    await running.getByText('running').waitFor({ timeout: 60_000 });
    await waitFor('CPU and memory of the container', async () => (await running.locator('td').nth(5).textContent())?.includes('iB'), 20_000);
    await screenshots(page, 'work-running');

    const finished = page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${work.id}"]`);
    await finished.getByText('finished').waitFor({ timeout: 60_000 });
    await screenshots(page, 'work-history');
    await finished.getByRole('button', { name: 'Logs' }).click();
    await page.getByTestId('log-scroller').getByText('tool write', { exact: false }).first().waitFor();
    // The ANSI colour arrives as a class, not as escape codes.
    await page.locator('.fg-ansi-green', { hasText: 'all green' }).waitFor();
    await screenshots(page, 'session-log');
    const [logDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
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

    await page.getByRole('button', { name: 'App log' }).click();
    await page.getByTestId('log-scroller').getByText('worker online', { exact: false }).first().waitFor();
    await screenshots(page, 'app-log');

    assert.ok(received.length > 10);
    for (const secret of [playground.apiKey, environmentKey]) {
      assert.ok(!received.some((frame) => frame.includes(secret)), 'a key reached the page');
      assert.ok(!dashboard.output().includes(secret), 'a key reached the log');
    }
    assert.ok(!(await page.content()).includes(playground.apiKey));

    // History survives a restart of Outpost.
    dashboard.signal('SIGTERM');
    assert.equal(await dashboard.exited, 0);
    const again = await startDashboard({ dataDir: dashboard.dataDir, env: keychain });
    dashboards.push(again);
    const reopened = await open(again);
    await reopened.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${work.id}"]`).getByText('finished').waitFor();
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
    assert.equal((await outpostContainers(dashboard.installId())).length, 1);
    await row.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${stubborn.work.id}"]`).waitFor({ timeout: 30_000 });
    await waitFor('the container removed', async () => (await outpostContainers(dashboard.installId())).length === 0, 20_000);
    assert.equal(playground.record(stubborn.work.id).item.state, 'stopped');

    const slow = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 4; echo finished in time' } }] });
    await page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${slow.work.id}"]`).getByText('running').waitFor({ timeout: 60_000 });
    await page.getByRole('switch', { name: 'Worker' }).click();
    await waitFor('Draining', async () => (await page.getByTestId('worker-status').textContent()) === 'Draining', 10_000);
    await screenshots(page, 'work-draining');
    await waitFor('Off', async () => (await page.getByTestId('worker-status').textContent()) === 'Off', 60_000);
    // Drained, not cut short: the session's tool call ran to the end.
    assert.match(playground.sessions.results(slow.sessionId).map((r) => r.text).join(''), /finished in time/);
    assert.equal((await outpostContainers(dashboard.installId())).length, 0);
    await page.close();
  });

  it('opens, scrolls and searches a 1,000,000-line log smoothly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-e2e-log-'));
    mkdirSync(join(dataDir, 'logs', 'sessions'), { recursive: true });
    const workId = 'work_onemillion';
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(join(dataDir, 'logs', 'sessions', `${workId}.log`));
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
    const now = Date.now();
    const entry = { workId, environmentId: 'env_x', kind: 'session', subjectId: 'sesn_onemillion', status: 'finished', claimedAt: now - 60_000, endedAt: now, reason: 'session ended', hasLog: true };
    writeFileSync(join(dataDir, 'history.jsonl'), JSON.stringify(entry) + '\n');
    const { environment, environmentKey } = playground.createEnvironment('e2e-log');
    const dashboard = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, dataDir });
    dashboards.push(dashboard);
    const page = await open(dashboard);

    let started = Date.now();
    await page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${workId}"]`).getByRole('button', { name: 'Logs' }).click();
    await page.getByTestId('line-count').getByText('1,000,000 lines').waitFor();
    await page.locator('.line[data-line="1000000"]').waitFor();
    const openMs = Date.now() - started;

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
    await screenshots(page, 'log-one-million');
    const mib = Math.round(statSync(join(dataDir, 'logs', 'sessions', `${workId}.log`)).size / 2 ** 20);
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
      page.on('request', (r) => void r.allHeaders().then((h) => requests.push(JSON.stringify([r.url(), h]))));
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
