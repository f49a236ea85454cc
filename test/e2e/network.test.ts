import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { consoleErrors, launchChromium, screenshots, startDashboard, tabTo, type Dashboard } from '../helpers/browser.js';
import { waitFor } from '../helpers/worker.js';

/** A session's `node` fetching one URL through its environment's proxy (NODE_USE_ENV_PROXY). */
const probe = (url: string) =>
  `node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(8000) }).then((r) => r.text()).then((t) => console.log("reached", t), (e) => console.log("failed"))' ${url} 2>/dev/null`;

/**
 * The Network view, in Debian's Chromium, over the real headless dashboard: a session
 * on the allowlist policy, its connections live, and the one-click allow. Loopback only: the
 * "outside" server is on 127.0.0.2, an internal address the allowlist must name to let through.
 */
describe('the window’s Network view', { timeout: 240_000 }, () => {
  let playground: AnthropicPlayground;
  let browser: Browser;
  let dashboard: Dashboard | undefined;
  let target: Server;
  let port: number;

  before(async () => {
    playground = new AnthropicPlayground({ leaseTtlSeconds: 10 });
    await playground.start();
    target = createServer((_req, res) => res.end('hello from 127.0.0.2'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.2', r));
    port = (target.address() as { port: number }).port;
    browser = await launchChromium();
  });
  after(async () => {
    if (dashboard) {
      dashboard.signal('SIGTERM');
      dashboard.signal('SIGTERM');
      await dashboard.exited;
    }
    await browser?.close();
    target?.close();
    await playground?.close();
  });

  it('shows a running session’s allowed and refused connections; one click allows a host, and the next session reaches it', async () => {
    const { environment, environmentKey } = playground.createEnvironment('e2e-egress');
    dashboard = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--egress', 'allowlist', '--grace-seconds', '2'], env: { OUTPOST_API_KEY: playground.apiKey } });
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
    const errors = consoleErrors(page);
    await page.goto(dashboard.url);
    await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 60_000);

    const first = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: probe(`http://127.0.0.2:${port}/`) } }, { name: 'bash', input: { command: 'sleep 6' } }] });
    const row = page.getByRole('table', { name: 'Running now' }).locator(`tr[data-work-id="${first.work.id}"]`);
    await row.getByText('running').waitFor({ timeout: 60_000 });
    await tabTo(page, row.getByRole('button', { name: 'Network' }));
    await page.keyboard.press('Enter');

    // Live: the refusal and the session runner's own API calls, as the session makes them.
    const connections = page.getByRole('table', { name: 'Connections' });
    const refused = connections.locator('tr[data-host="127.0.0.2"][data-allowed="false"]').first();
    await refused.waitFor({ timeout: 30_000 });
    assert.match((await refused.textContent()) ?? '', /refused.*internal address: add 127\.0\.0\.2/);
    await connections.locator('tr[data-host="127.0.0.1"][data-allowed="true"]').first().waitFor();
    assert.match((await page.getByTestId('egress-policy').textContent()) ?? '', /Egress allowlist/);
    await screenshots(page, 'network');

    await tabTo(page, refused.getByRole('button', { name: 'Allow 127.0.0.2' }));
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Added 127.0.0.2 to the allowlist' }).waitFor();
    await refused.getByText('on the allowlist now').waitFor();
    const settings = JSON.parse(readFileSync(join(dashboard.dataDir, 'settings.json'), 'utf8')) as { environments: Array<{ allowHosts: string[] }> };
    assert.ok(settings.environments[0]!.allowHosts.includes('127.0.0.2'), 'kept in the environment’s settings');
    assert.ok(settings.environments[0]!.allowHosts.includes('registry.npmjs.org'), 'added to the list, not replacing it');
    assert.equal(playground.sessions.results(first.sessionId)[0]?.text.trim(), 'failed');

    const second = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: probe(`http://127.0.0.2:${port}/`) } }] });
    await waitFor('the second session’s result', () => playground.sessions.results(second.sessionId).length === 1, 60_000);
    assert.equal(playground.sessions.results(second.sessionId)[0]!.text.trim(), 'reached hello from 127.0.0.2');

    // Kept with the history: the first session's connections, after it ended.
    await page.getByRole('button', { name: '← Back' }).click();
    const history = page.getByRole('table', { name: 'History' }).locator(`tr[data-work-id="${first.work.id}"]`);
    await history.getByRole('button', { name: 'Network' }).click({ timeout: 30_000 });
    await connections.locator('tr[data-host="127.0.0.2"]').first().waitFor();

    // The environment's settings: the policy and its list, edited in words; a bad entry is refused in words.
    await page.getByRole('button', { name: 'Environments' }).click();
    await page.getByRole('row').filter({ hasText: environment.id }).getByRole('button', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: `Settings for ${environment.id}` });
    assert.equal(await form.getByLabel('Egress').inputValue(), 'allowlist');
    const list = form.getByLabel(/^Allowlist/);
    assert.match(await list.inputValue(), /^registry\.npmjs\.org\n[\s\S]*\n127\.0\.0\.2$/);
    await screenshots(page, 'environment-egress');
    await list.fill(`${await list.inputValue()}\nhttp://evil`);
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('alert').filter({ hasText: 'allowHosts' }).waitFor();
    await list.fill('*.Example.test\n10.0.0.0/8');
    await form.getByLabel('Egress').selectOption('api');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const saved = JSON.parse(readFileSync(join(dashboard.dataDir, 'settings.json'), 'utf8')) as { environments: Array<{ egress: string; allowHosts: string[] }> };
    assert.deepEqual([saved.environments[0]!.egress, saved.environments[0]!.allowHosts], ['api', ['*.example.test', '10.0.0.0/8']]);
    assert.deepEqual(errors, [], 'console errors');
    await page.close();
  });

  it('an environment’s variables, a secret one and a read-only folder, set in the window, reach the next sessions; a dangerous folder is refused in words', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-e2e-folder-'));
    writeFileSync(join(folder, 'hello.txt'), 'from the host\n');
    // Readable by the session's uid (65532 when the tests run as root): a mount gives no more than the folder's own mode.
    chmodSync(folder, 0o755);
    const secret = 'correct-horse-battery-staple';
    const { environment, environmentKey } = playground.createEnvironment('e2e-extras');
    const extras = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--grace-seconds', '2'], env: { OUTPOST_API_KEY: playground.apiKey, OUTPOST_KEYCHAIN_SERVICE: `Outpost-e2e-${process.pid}` } });
    try {
      const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
      const errors = consoleErrors(page);
      const received: string[] = [];
      page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => received.push(String(payload))));
      await page.goto(extras.url);
      await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 60_000);
      await page.getByRole('button', { name: 'Environments' }).click();
      await page.getByRole('row').filter({ hasText: environment.id }).getByRole('button', { name: 'Settings' }).click();
      const form = page.getByRole('form', { name: `Settings for ${environment.id}` });

      await form.getByLabel('Name', { exact: true }).fill('DB_PASSWORD');
      await form.getByLabel('Value', { exact: true }).fill(secret);
      await form.getByRole('button', { name: 'Add secret' }).click();
      await form.getByRole('list', { name: 'Secret variables' }).getByText('DB_PASSWORD').waitFor();
      await form.getByLabel(/^Variables/).fill('NODE_ENV=production');
      await form.getByLabel(/^Read-only folders/).fill('/var/run');
      await form.getByRole('button', { name: 'Save' }).click();
      await page.getByText(/refused to mount \/var\/run.*runtime state/).first().waitFor();
      await form.getByLabel(/^Read-only folders/).fill(`${folder}:/data`);
      await screenshots(page, 'environment-variables');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.waitFor({ state: 'detached' });

      // Variables and folders apply when the worker next starts: off (it drains), on.
      const worker = page.getByRole('switch', { name: 'Worker' });
      await worker.click();
      await waitFor('Off', async () => (await page.getByTestId('worker-status').textContent()) === 'Off', 60_000);
      await worker.click();
      await waitFor('Online', async () => (await page.getByTestId('worker-status').textContent()) === 'Online', 60_000);
      const session = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo "$NODE_ENV $DB_PASSWORD"; cat /data/hello.txt; touch /data/x 2>&1 | grep -c Read-only' } }] });
      await waitFor('the session’s result', () => playground.sessions.results(session.sessionId).length === 1, 60_000);
      assert.equal(playground.sessions.results(session.sessionId)[0]!.text.trim(), `production ${secret}\nfrom the host\n1`);
      assert.ok(!received.some((frame) => frame.includes(secret)), 'the secret never came back to the page');
      assert.ok(!readFileSync(join(extras.dataDir, 'settings.json'), 'utf8').includes(secret), 'nor into the settings file');
      assert.deepEqual(errors, [], 'console errors');
      await page.close();
    } finally {
      extras.signal('SIGTERM');
      extras.signal('SIGTERM');
      await extras.exited;
    }
  });
});
