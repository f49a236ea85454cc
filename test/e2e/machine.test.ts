import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { consoleErrors, launchChromium, screenshots, startDashboard, tabTo, type Dashboard, stopDashboards } from '../helpers/browser.js';
import { docker } from '../helpers/docker.js';
import { DockerInfoRewriter } from '../helpers/docker-proxy.js';
import { waitFor } from '../helpers/worker.js';

/**
 * The window names its Docker engine, says what it cannot enforce, offers the others found here, and
 * runs `outpost doctor`'s checks — in Debian's Chromium, over the real headless dashboard, against the
 * real engine here (rootful dockerd) and, for another engine's description, the same engine behind a
 * Docker API proxy that rewrites its /info answer.
 */
describe('the window’s engine and machine checks', { timeout: 300_000 }, () => {
  let playground: AnthropicPlayground;
  let browser: Browser;
  const dashboards: Dashboard[] = [];
  const proxies: DockerInfoRewriter[] = [];
  // Its own keychain entries: never the developer's own Outpost keys.
  const keychain = { OUTPOST_KEYCHAIN_SERVICE: `Outpost-e2e-machine-${process.pid}` };
  const errorsOf = new Map<Page, string[]>();

  before(async () => {
    playground = new AnthropicPlayground({ leaseTtlSeconds: 10 });
    await playground.start();
    browser = await launchChromium();
  });
  after(async () => {
    await stopDashboards(dashboards);
    for (const p of proxies) await p.close();
    await browser?.close();
    await playground?.close();
  });

  const dashboard = async (opts: Parameters<typeof startDashboard>[0]) => {
    const d = await startDashboard({ ...opts, env: { ...keychain, ...opts?.env } });
    dashboards.push(d);
    return d;
  };
  const open = async (d: Dashboard): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
    errorsOf.set(page, consoleErrors(page));
    await page.goto(d.url);
    return page;
  };
  const proxy = async (rewrite: (info: Record<string, unknown>) => Record<string, unknown>) => {
    const p = new DockerInfoRewriter(rewrite);
    await p.open();
    proxies.push(p);
    return p;
  };
  /** The checks as the page shows them: topic → the row's text (mark, line and fix). */
  const checksShown = async (page: Page) => {
    const rows = page.getByRole('list', { name: 'Checks of this machine' }).getByRole('listitem');
    const out = new Map<string, string>();
    for (const row of await rows.all()) out.set((await row.getAttribute('data-topic'))!, (await row.textContent())!);
    return out;
  };
  const servedOn = async (dockerHost: string, name: string, dataDir?: string) => {
    const { environment, environmentKey } = playground.createEnvironment(name);
    return dashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--warm', '0'], env: { DOCKER_HOST: dockerHost }, ...(dataDir ? { dataDir } : {}) });
  };

  it('on this machine’s engine: the first run checks it and lists nothing, every check ✔ on asking; Environments names the engine, with no warning', async () => {
    const first = await open(await dashboard({ env: { DOCKER_HOST: '' } }));
    await first.getByRole('heading', { name: 'Set up Outpost' }).waitFor();
    await first.getByTestId('checks-summary').getByText('✔ This machine passed every check.').waitFor({ timeout: 60_000 });
    assert.equal(await first.getByRole('list', { name: 'Checks of this machine' }).count(), 0, 'a machine that passes is not listed on the first run');
    await tabTo(first, first.getByRole('button', { name: 'Show the checks' }));
    await first.keyboard.press('Enter');
    const firstChecks = await checksShown(first);
    assert.deepEqual([...firstChecks.keys()], ['engine', 'limits', 'image', 'container', 'data-folder', 'workspace', 'egress', 'keychain']);
    for (const [topic, text] of firstChecks) assert.ok(text.startsWith('✔'), `${topic}: ${text}`);
    await screenshots(first, 'setup-checks');
    assert.deepEqual(errorsOf.get(first), []);
    await first.close();

    const info = (await docker.info()) as { MemoryLimit?: boolean; PidsLimit?: boolean; CpuCfsQuota?: boolean; CgroupVersion?: string };
    const page = await open(await servedOn('', 'machine-real'));
    await page.getByRole('button', { name: 'Environments' }).click();
    const line = page.getByTestId('engine-line');
    await line.waitFor();
    assert.match((await line.textContent())!, new RegExp(`^Docker \\S+ \\(rootful, cgroup v${info.CgroupVersion}\\) at unix:///var/run/docker\\.sock, found by the default socket /var/run/docker\\.sock$`));
    if (info.MemoryLimit && info.PidsLimit && info.CpuCfsQuota) assert.equal(await page.getByTestId('engine-unenforced').count(), 0, 'no false alarm where every limit holds');
    assert.equal(await page.getByRole('radio', { name: /Automatic/ }).isChecked(), true);
    await tabTo(page, page.getByRole('button', { name: 'Check this machine' }));
    await page.keyboard.press('Enter');
    await page.getByTestId('checks-summary').getByText('✔ This machine passed every check.').waitFor({ timeout: 60_000 });
    const checks = await checksShown(page);
    assert.equal(checks.size, 8);
    for (const [topic, text] of checks) assert.ok(text.startsWith('✔'), `${topic}: ${text}`);
    assert.match(checks.get('engine')!, /^✔Docker engine: Docker \S+ \(rootful/);
    await screenshots(page, 'environments-engine');
    assert.deepEqual(errorsOf.get(page), []);
    await page.close();
  });

  // Real rootless engines, with their own user mapping, are run by engines.test.ts; here the window's part.
  it('an engine that enforces no limit: the first run lists the checks at once, ✘ with the fix', async () => {
    const unbounded = await proxy((info) => ({ ...info, CgroupDriver: 'none' }));
    const page = await open(await dashboard({ env: { DOCKER_HOST: unbounded.dockerHost } }));
    await page.getByRole('heading', { name: 'This machine needs attention' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('checks-summary').getByText('✘ 1 check failed: each says what to do.').waitFor();
    const checks = await checksShown(page);
    assert.match(checks.get('engine')!, new RegExp(`^✔Docker engine: Docker \\S+ \\(rootful, cgroup v1\\) at ${unbounded.dockerHost}, found by DOCKER_HOST$`));
    assert.match(checks.get('limits')!, /^✘limits: this engine on cgroup v1 enforces no memory, CPU or process limit/);
    assert.equal(await page.locator('li[data-topic="limits"] .fix').textContent(), 'Sessions run, unbounded by what is named.');
    for (const topic of ['image', 'container', 'data-folder', 'workspace', 'egress', 'keychain']) assert.ok(checks.get(topic)?.startsWith('✔'), `${topic}: ${checks.get(topic)}`);
    await screenshots(page, 'setup-checks-failed');
    assert.deepEqual(errorsOf.get(page), []);
    await page.close();
  });

  it('an engine that cannot enforce a limit: Environments says so and the check fails; another engine found here is picked, saved, and used from the next start', async () => {
    const noPids = await proxy((info) => ({ ...info, PidsLimit: false }));
    const served = await servedOn(noPids.dockerHost, 'machine-no-pids');
    const page = await open(served);
    await page.getByRole('button', { name: 'Environments' }).click();
    const line = page.getByTestId('engine-line');
    await line.waitFor();
    assert.match((await line.textContent())!, new RegExp(`^Docker \\S+ \\(rootful, cgroup v\\d\\) at ${noPids.dockerHost}, found by DOCKER_HOST$`));
    await page.getByTestId('engine-unenforced').getByText('process limits (--pids) are not enforced: the engine has no pids cgroup').waitFor();
    // The worker said it too, when it started (in its log, and as a notice to the windows open then).
    assert.match(served.output(), /The Docker engine \(Docker\) cannot enforce the sessions' limits: process limits \(--pids\) are not enforced/);

    await page.getByRole('button', { name: 'Check this machine' }).click();
    await page.getByTestId('checks-summary').getByText('✘ 1 check failed: each says what to do.').waitFor({ timeout: 60_000 });
    const checks = await checksShown(page);
    assert.match(checks.get('limits')!, /^✘limits: process limits \(--pids\) are not enforced: the engine has no pids cgroup\.Sessions run, unbounded by what is named\.$/);

    // Both engines are offered, each named by what answered there; the real socket is picked.
    const own = page.getByRole('radio', { name: /unix:\/\/\/var\/run\/docker\.sock Docker / });
    await page.getByRole('radio', { name: new RegExp(`${noPids.dockerHost} Docker \\S+ in use`) }).waitFor();
    await screenshots(page, 'environments-engine-unenforced');
    await tabTo(page, page.getByRole('radio', { name: /Automatic/ }));
    // Arrow keys move through a radio group, each one chosen as it is reached: down to the engine's own socket.
    // Focus moves with the key at once; the controlled radio shows it checked once React has rendered the pick.
    const offered = await page.getByRole('radio').count();
    const focused = () => own.evaluate((el) => el === document.activeElement);
    for (let i = 0; i < offered && !(await focused()); i++) await page.keyboard.press('ArrowDown');
    await waitFor(`the engine's own socket chosen (offered: ${(await page.locator('label:has(input[name="docker-host"])').allInnerTexts()).join(' | ')})`, () => own.isChecked(), 10_000);
    const setting = () => (JSON.parse(readFileSync(join(served.dataDir, 'settings.json'), 'utf8')) as { dockerHost?: string }).dockerHost;
    await waitFor('the engine saved', () => setting() === 'unix:///var/run/docker.sock', 10_000);
    await page.getByRole('status').getByText('Outpost uses the engine chosen when it next opens').waitFor();
    assert.deepEqual(errorsOf.get(page), []);
    await page.close();

    served.signal('SIGTERM');
    assert.equal(await served.exited, 0);
    const again = await open(await dashboard({ dataDir: served.dataDir, env: { DOCKER_HOST: noPids.dockerHost } }));
    await again.getByRole('button', { name: 'Environments' }).click();
    await waitFor('the chosen engine in use', async () => /at unix:\/\/\/var\/run\/docker\.sock, found by the Docker engine setting \(dockerHost in settings\.json\)$/.test((await again.getByTestId('engine-line').textContent()) ?? ''));
    assert.equal(await again.getByTestId('engine-unenforced').count(), 0);
    assert.equal(await again.getByRole('status').filter({ hasText: 'next opens' }).count(), 0);
    assert.deepEqual(errorsOf.get(again), []);
    await again.close();
  });
});
