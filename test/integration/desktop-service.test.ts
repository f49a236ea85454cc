import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import electronLog from 'electron-log/node';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { BridgePlayground } from '../../playground/bridge.js';
import { environmentProfileSchema } from '../../shared/contract.js';
import { configureAppLog } from '../../electron/app/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { KeytarSecretStore } from '../../electron/core/secrets/keytar-store.js';
import type { ServiceEvent } from '../../shared/contract.js';
import { ShutdownPolicy, type StopAnswer } from '../../electron/core/shutdown.js';
import { NotificationPolicy } from '../../electron/app/notifications.js';
import { buildScriptImage, outpostContainers } from '../helpers/docker.js';
import { waitFor } from '../helpers/worker.js';

/**
 * The desktop app's core, as its window and tray drive it: through the contract, with keys
 * in the real keychain, sessions in real Docker containers, against the playground.
 */
describe('the desktop service: contract calls, keychain, quit with sessions running', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  const logsFolder = mkdtempSync(join(tmpdir(), 'outpost-applog-'));
  const logger = configureAppLog(electronLog, logsFolder);
  const secrets = new KeytarSecretStore(`Outpost-test-${process.pid}`);
  const services: Outpost[] = [];
  const messages: unknown[] = [];
  const folders: string[] = [];

  before(async () => {
    await playground.start();
    await buildScriptImage('outpost-test-echo', 'echo "session $ANTHROPIC_SESSION_ID says hello"; sleep 2; echo bye');
    await buildScriptImage('outpost-test-sleep', 'echo sleeping; exec sleep 600');
  });
  after(async () => {
    for (const s of services) await s.dispose();
    await playground.close();
  });

  /** A service serving a fresh environment with `image`, set up through contract calls only. */
  async function serving(image: string, opts: { key?: string } = {}) {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-app-'));
    folders.push(folder);
    const service = Outpost.open({ dataDir: folder, secrets, logger });
    const paths = service.paths;
    services.push(service);
    const events: ServiceEvent[] = [];
    service.events.on((e) => (events.push(e), messages.push(e)));
    const call = async (channel: string, arg?: unknown) => {
      const reply = await service.handle(channel, arg);
      messages.push(reply);
      return reply;
    };
    const { environment, environmentKey } = playground.createEnvironment('desktop');
    const profile = environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, image, networkMode: 'host', graceSeconds: 2, drainSeconds: 30 });
    const settings = await call('settings.update', { servedEnvironmentId: environment.id, environment: profile });
    assert.ok('result' in settings);
    assert.deepEqual(await call('keys.set', { kind: 'environment-key', environmentId: environment.id, value: opts.key ?? environmentKey }), { result: null });
    assert.deepEqual(await call('keys.status', { kind: 'environment-key', environmentId: environment.id }), { result: { set: true } });
    return { service, events, call, environment, environmentKey, paths, folder };
  }

  it('starts the worker through the contract; states and items arrive as events', async () => {
    const { call, events, environment } = await serving('outpost-test-echo');
    assert.deepEqual(await call('worker.start'), { result: null });
    const item = playground.enqueue(environment.id);
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 30_000);
    await waitFor('the finished item event', () => events.some((e) => e.name === 'item-state' && e.payload.status === 'finished'));
    const statuses = events.filter((e) => e.name === 'item-state').map((e) => (e.payload as { status: string }).status);
    assert.deepEqual(statuses, ['starting', 'running', 'finished']);
    assert.ok(events.some((e) => e.name === 'worker-state' && e.payload.status === 'online'));
    assert.deepEqual(await call('worker.stop', { mode: 'now' }), { result: null });
    assert.deepEqual(await call('worker.state'), { result: { status: 'off' } });
  });

  it('serves an AINative Bridge environment through the same contract', async () => {
    const bridge = new BridgePlayground({ pollIntervalMs: 200 });
    await bridge.start();
    const folder = mkdtempSync(join(tmpdir(), 'outpost-app-'));
    const service = Outpost.open({ dataDir: folder, secrets, logger });
    services.push(service);
    try {
      const env = bridge.createEnvironment('byoc');
      const id = env.environment_id;
      const profile = environmentProfileSchema.parse({ environmentId: id, provider: 'ainative', baseUrl: bridge.url, image: 'outpost-test-base', interpreter: ['sh'], networkMode: 'host' });
      await service.handle('settings.update', { servedEnvironmentId: id, environment: profile });
      await service.handle('keys.set', { kind: 'environment-key', environmentId: id, value: bridge.token });
      assert.deepEqual(await service.handle('worker.start', {}), { result: null });
      const work = bridge.enqueue(id, 'code_execution', { script: 'echo from the window\n' });
      await waitFor('the script to be acked', () => bridge.work.get(work.work_id)!.state === 'acknowledged', 30_000);
      assert.equal(bridge.work.get(work.work_id)!.result!['stdout'], 'from the window\n');
      await service.handle('worker.stop', { mode: 'now' });
      await secrets.delete({ kind: 'environment-key', environmentId: id });
    } finally {
      await bridge.close();
    }
  });

  it('refuses malformed calls with an error envelope, acting on nothing', async () => {
    const { call } = await serving('outpost-test-echo');
    for (const [channel, arg] of [['worker.stop', { mode: 'whenever' }], ['keys.set', { kind: 'api-key' }], ['no.such.call', {}], ['items.stop', 'w1']] as const) {
      const reply = (await call(channel, arg)) as { error?: { code: string } };
      assert.equal(reply.error?.code, 'invalid-request', `${channel}`);
    }
  });

  it('a wrong environment key stops the worker with a notice naming the environment', async () => {
    const { call, events, environment } = await serving('outpost-test-echo', { key: 'sk-ant-env-wrong-wrong-wrong' });
    await call('worker.start');
    await waitFor('the notice', () => events.some((e) => e.name === 'notice'), 15_000);
    const notice = events.find((e) => e.name === 'notice')!.payload as { level: string; message: string };
    assert.equal(notice.level, 'error');
    assert.match(notice.message, new RegExp(`environment ${environment.id}: the control plane refused .*401`));
    // What the desktop shows of it: one notification, that the key was refused, opening setup.
    const policy = new NotificationPolicy();
    const told = events.map((e) => policy.decide(e)).filter((n) => n !== null);
    assert.deepEqual(
      told.map((n) => [n.title, n.open]),
      [['Outpost’s key was refused', { view: 'setup' }]],
    );
  });

  it('desktop notifications are on by default, and a settings patch turns them off, kept across a restart', async () => {
    const { call, service, folder } = await serving('outpost-test-echo');
    const get = async () => ((await call('settings.get')) as { result: { desktopNotifications: boolean } }).result.desktopNotifications;
    assert.equal(await get(), true);
    const off = (await call('settings.update', { desktopNotifications: false })) as { result: { desktopNotifications: boolean; servedEnvironmentId: string } };
    assert.equal(off.result.desktopNotifications, false);
    assert.ok(off.result.servedEnvironmentId, 'the patch changed nothing else');
    assert.equal(service.settings.desktopNotifications, false, 'what the desktop head reads before each notification');
    const reopened = Outpost.open({ dataDir: folder, secrets, logger });
    services.push(reopened);
    assert.equal(reopened.settings.desktopNotifications, false);
    assert.equal(((await call('settings.update', { desktopNotifications: 'no' })) as { error?: { code: string } }).error?.code, 'invalid-request');
  });

  it('asleep it claims nothing; awake it checks every lease before claiming again', async () => {
    const { call, service, events, environment } = await serving('outpost-test-sleep');
    await call('worker.start');
    const first = playground.enqueue(environment.id);
    await waitFor('the first session to run', () => events.some((e) => e.name === 'item-state' && e.payload.status === 'running'), 30_000);
    service.sleep();
    const second = playground.enqueue(environment.id);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(playground.record(second.id).item.acknowledged_at, null, 'nothing claimed while asleep');
    assert.equal(playground.record(second.id).item.state, 'queued');
    playground.stealLease(first.id); // the lease moved on while the lid was closed
    await service.wake();
    const firstEvents = () => events.filter((e) => e.name === 'item-state' && e.payload.workId === first.id).map((e) => (e.payload as { status: string }).status);
    await waitFor('the first session to be dropped as lost', () => firstEvents().includes('lost'), 10_000);
    await waitFor('the second item to be claimed after waking', () => playground.record(second.id).item.acknowledged_at !== null, 15_000);
    assert.deepEqual(playground.record(first.id).stops, [], 'a lost item is not ours to stop');
    await call('worker.stop', { mode: 'now' });
  });

  async function quitWith(answer: StopAnswer, image: string, opts: { secondQuit?: boolean } = {}) {
    const ctx = await serving(image);
    await ctx.call('worker.start');
    const item = playground.enqueue(ctx.environment.id);
    await waitFor('the session to run', () => ctx.events.some((e) => e.name === 'item-state' && e.payload.status === 'running'), 30_000);
    let asked = -1;
    // The desktop app's quit: the policy (asking), then closing the Outpost.
    const policy = new ShutdownPolicy(ctx.service, async (n) => ((asked = n), answer));
    const started = Date.now();
    const quitting = policy.request().then(async (proceed) => (proceed && (await ctx.service.dispose()), proceed));
    if (opts.secondQuit) {
      await waitFor('draining', () => ctx.service.workerState.status === 'draining');
      void policy.request();
    }
    assert.equal(await quitting, true);
    return { ...ctx, item, asked, took: Date.now() - started };
  }

  it('quit with a session running, "let it finish": the session completes, then nothing is left', async () => {
    const { item, asked, events, paths } = await quitWith('drain', 'outpost-test-echo');
    assert.equal(asked, 1, 'asked, naming one session');
    const final = events.filter((e) => e.name === 'item-state').at(-1)!.payload as { status: string; reason: string };
    assert.deepEqual([final.status, final.reason], ['finished', 'exited 0']);
    assert.equal(playground.record(item.id).item.state, 'stopped');
    assert.equal((await outpostContainers(paths.installId())).length, 0);
  });

  it('quit with a session running, "stop it now": stopped within the grace period, nothing left', async () => {
    const { item, took, paths } = await quitWith('stop-now', 'outpost-test-sleep');
    assert.ok(took < 2_000 + 3_000, `quit took ${took} ms (grace 2 s)`);
    assert.equal(playground.record(item.id).item.state, 'stopped');
    assert.equal((await outpostContainers(paths.installId())).length, 0);
  });

  it('a second quit while waiting stops the sessions', async () => {
    const { item, took, paths } = await quitWith('drain', 'outpost-test-sleep', { secondQuit: true });
    assert.ok(took < 10_000, `quit took ${took} ms, not the 30 s drain`);
    assert.equal(playground.record(item.id).item.state, 'stopped');
    assert.equal((await outpostContainers(paths.installId())).length, 0);
  });

  it('no key reaches the app log, a settings file or any contract message', async () => {
    logger.info('a careless line', { oops: [...playground.environments.keys()].map((id) => `key for ${id}`) });
    const keys = [playground.apiKey, ...[...playground.work.values()].map((r) => r.sessionsToken)];
    for (const s of services) keys.push(...(await Promise.all(s.settings.environments.map((e) => secrets.get({ kind: 'environment-key', environmentId: e.environmentId })))).filter((k) => k !== null).map((k) => k!.secret.reveal()));
    assert.ok(keys.length > 5);
    const logText = readdirSync(logsFolder).map((f) => readFileSync(join(logsFolder, f), 'utf8')).join('\n');
    assert.match(logText, /a careless line/, 'the app log was written');
    const settingsText = folders.map((f) => readFileSync(join(f, 'settings.json'), 'utf8')).join('\n');
    assert.match(settingsText, /"servedEnvironmentId"/);
    const messageText = JSON.stringify(messages);
    for (const key of keys) {
      assert.ok(!logText.includes(key), 'no key in the app log');
      assert.ok(!settingsText.includes(key), 'no key in settings');
      assert.ok(!messageText.includes(key), 'no key in a contract message');
    }
    for (const s of services) for (const e of s.settings.environments) await secrets.delete({ kind: 'environment-key', environmentId: e.environmentId });
  });
});
