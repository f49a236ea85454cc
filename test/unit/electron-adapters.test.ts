import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { IpcMainInvokeEvent } from 'electron';
import { CHANNEL_NAMES, ipcChannel } from '../../shared/channels.js';
import type { WorkerState } from '../../shared/states.js';
import { registerIpc, trustedSenderCheck } from '../../electron/app/ipc.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/app/app-protocol.js';
import { hardenContents, hardenSession, secureWebPreferences } from '../../electron/app/security.js';
import { renderTray, trayIconPath } from '../../electron/app/tray.js';
import { trayIcon, trayMenu } from '../../electron/app/tray-model.js';
import { keepInTrayOnClose, mainWindowOptions } from '../../electron/app/window.js';
import { askAboutRunningSessions } from '../../electron/app/dialogs.js';
import { DesktopNotifications, NotificationPolicy, showNotice, type DesktopNotice } from '../../electron/app/notifications.js';
import type { OpenView, ServiceEvent } from '../../shared/contract.js';

/** Stand-ins for Electron's objects (its binary cannot run here): they record what the adapters do. */
function fakeIpcMain() {
  const handlers = new Map<string, (event: unknown, arg: unknown) => Promise<unknown>>();
  return {
    handlers,
    handle: (channel: string, fn: (event: IpcMainInvokeEvent, arg: unknown) => Promise<unknown>) => void handlers.set(channel, fn as never),
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
}
const APP = 'app://outpost/';
const fromOurWindow = { sender: { id: 7 }, senderFrame: { url: `${APP}index.html`, parent: null } };

describe('IPC adapter', () => {
  const calls: Array<[string, unknown]> = [];
  const service = { handle: async (channel: string, arg: unknown) => (calls.push([channel, arg]), { result: 'ok' }) };
  const ipc = fakeIpcMain();
  const dispose = registerIpc(ipc, service, trustedSenderCheck(() => 7));

  it('registers one handler per contract call', () => {
    assert.deepEqual([...ipc.handlers.keys()].sort(), CHANNEL_NAMES.map(ipcChannel).sort());
  });

  it('passes a call from our window to the service', async () => {
    const reply = await ipc.handlers.get('outpost:items.stop')!(fromOurWindow, { workId: 'w1' });
    assert.deepEqual(reply, { result: 'ok' });
    assert.deepEqual(calls.at(-1), ['items.stop', { workId: 'w1' }]);
  });

  it('refuses foreign senders: another window, an iframe, a page that is not ours (file:// included)', async () => {
    const before = calls.length;
    const ourFrameAt = (url: string) => ({ sender: { id: 7 }, senderFrame: { url, parent: null } });
    const foreign = [
      { sender: { id: 8 }, senderFrame: fromOurWindow.senderFrame },
      { sender: { id: 7 }, senderFrame: { url: `${APP}index.html`, parent: {} } },
      ourFrameAt('https://evil.example/'),
      // The renderer's own files, but from file://: no longer the app (it loads from app://outpost).
      ourFrameAt('file:///opt/outpost/dist/renderer/index.html'),
      ourFrameAt('app://evil/index.html'),
      ourFrameAt('app://outpost.evil/index.html'),
      ourFrameAt('app://outpost:1/index.html'),
      ourFrameAt('app://x@outpost/index.html'),
      ourFrameAt('http://outpost/index.html'),
      { sender: { id: 7 }, senderFrame: null },
    ];
    for (const event of foreign) {
      const reply = (await ipc.handlers.get('outpost:keys.set')!(event, { kind: 'api-key', value: 'sk-ant-xxxxxxxxxx' })) as { error?: { code: string } };
      assert.equal(reply.error?.code, 'forbidden');
    }
    assert.equal(calls.length, before, 'nothing reached the service');
  });

  it('removes its handlers when disposed', () => {
    dispose();
    assert.equal(ipc.handlers.size, 0);
  });
});

describe('security hardening', () => {
  it('every window is isolated, sandboxed, without Node', () => {
    assert.deepEqual(secureWebPreferences('/p.cjs'), { contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInSubFrames: false, webSecurity: true, preload: '/p.cjs' });
    assert.equal(mainWindowOptions('/p.cjs', '/i.png').webPreferences?.sandbox, true);
  });

  it('denies new windows, navigation away from the app and webviews', () => {
    const listeners = new Map<string, (event: { preventDefault(): void; prevented?: boolean }, url?: string) => void>();
    let openHandler: (() => { action: string }) | undefined;
    hardenContents({ setWindowOpenHandler: (fn: never) => void (openHandler = fn), on: ((name: string, fn: never) => void listeners.set(name, fn)) as never });
    assert.deepEqual(openHandler!(), { action: 'deny' });
    const navigate = (url: string) => {
      const event = { prevented: false, preventDefault() { this.prevented = true; } };
      listeners.get('will-navigate')!(event, url);
      return event.prevented;
    };
    assert.equal(navigate('https://example.com/'), true);
    assert.equal(navigate('file:///opt/outpost/dist/renderer/index.html'), true, 'file:// is not the app');
    assert.equal(navigate('app://elsewhere/index.html'), true, 'another host of the app scheme is not the app');
    assert.equal(navigate(`${APP}index.html#logs`), false);
    const webview = { prevented: false, preventDefault() { this.prevented = true; } };
    listeners.get('will-attach-webview')!(webview);
    assert.equal(webview.prevented, true);
  });

  it('denies permission requests and sends a strict CSP', () => {
    let request: ((c: unknown, p: string, cb: (granted: boolean) => void, details: unknown) => void) | undefined;
    let check: ((c: unknown, p: string, origin: string, details: unknown) => boolean) | undefined;
    let headers: ((d: { responseHeaders: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void) | undefined;
    hardenSession({
      setPermissionRequestHandler: (fn: never) => void (request = fn),
      setPermissionCheckHandler: (fn: never) => void (check = fn),
      webRequest: { onHeadersReceived: (fn: never) => void (headers = fn) } as never,
    });
    let granted: boolean | undefined;
    const ours = { requestingUrl: 'app://outpost/index.html', isMainFrame: true };
    request!({}, 'media', (g) => (granted = g), ours);
    assert.equal(granted, false);
    assert.equal(check!({}, 'media', 'app://outpost', ours), false);
    let sent: Record<string, string[]> = {};
    headers!({ responseHeaders: { 'x-a': ['1'] } }, (r) => (sent = r.responseHeaders));
    assert.deepEqual(sent['Content-Security-Policy'], [CONTENT_SECURITY_POLICY]);
    assert.match(CONTENT_SECURITY_POLICY, /^default-src 'self'/);
  });
});

describe('tray', () => {
  const states: Array<[WorkerState, string, string]> = [
    [{ status: 'off' }, 'off', 'Worker off'],
    [{ status: 'online', active: 0 }, 'idle', 'Online · 0 sessions running'],
    [{ status: 'online', active: 2 }, 'busy', 'Online · 2 sessions running'],
    [{ status: 'online', active: 0, blockedBy: 'docker-unavailable' }, 'error', 'Waiting for Docker'],
    [{ status: 'online', active: 1, blockedBy: 'asleep' }, 'busy', 'Asleep · 1 session running'],
    [{ status: 'online', active: 1, blockedBy: 'on-battery' }, 'paused', 'Paused on battery · 1 session running'],
    [{ status: 'starting' }, 'off', 'Worker starting…'],
    [{ status: 'starting', detail: 'getting the session image ready' }, 'off', 'Starting: getting the session image ready'],
    [{ status: 'paused', active: 1 }, 'paused', 'Paused · 1 session running'],
    [{ status: 'draining', active: 1, deadline: 0 }, 'paused', 'Finishing · 1 session running'],
    [{ status: 'error', message: 'environment env_1: 401' }, 'error', 'Stopped: environment env_1: 401'],
  ];

  it('icon and menu are functions of the worker state', () => {
    for (const [state, icon, headline] of states) {
      assert.equal(trayIcon(state), icon, state.status);
      const menu = trayMenu(state);
      assert.equal(menu[0]!.label, headline);
      assert.deepEqual(menu.slice(-2).map((m) => m.action), ['open', 'quit'], 'Open and Quit are always there');
    }
    assert.deepEqual(trayMenu({ status: 'off' }).filter((m) => m.action).map((m) => m.action), ['start', 'open', 'quit']);
    assert.deepEqual(trayMenu({ status: 'online', active: 1 }).filter((m) => m.action).map((m) => m.action), ['pause', 'stop', 'open', 'quit']);
    assert.deepEqual(trayMenu({ status: 'paused', active: 0 }).filter((m) => m.action).map((m) => m.action), ['resume', 'stop', 'open', 'quit']);
    assert.deepEqual(trayMenu({ status: 'starting' }).filter((m) => m.action).map((m) => m.action), ['pause', 'stop', 'open', 'quit'], 'a minutes-long image build can be paused or stopped');
  });

  it('renders the image, tooltip and menu, and a click runs its action', () => {
    const done: string[] = [];
    let image = '';
    let tooltip = '';
    let template: Array<{ label?: string; click?: () => void; type?: string }> = [];
    renderTray(
      {
        tray: { setImage: (i: never) => void (image = i), setToolTip: (t: string) => void (tooltip = t), setContextMenu: () => {} },
        buildMenu: ((t: never) => ((template = t), {})) as never,
        image: (p: string) => p as never,
        iconsFolder: '/icons',
        platform: 'linux',
        onAction: (a) => void done.push(a),
      },
      { status: 'online', active: 3 },
    );
    assert.equal(image, '/icons/busy.png');
    assert.match(tooltip, /3 sessions running/);
    template.find((t) => t.label === 'Pause')!.click!();
    template.find((t) => t.label === 'Quit')!.click!();
    assert.deepEqual(done, ['pause', 'quit']);
    assert.ok(template.some((t) => t.type === 'separator'));
  });

  it('macOS gets Template images, and every icon named exists in build/tray for each OS', () => {
    const folder = new URL('../../build/tray', import.meta.url).pathname;
    for (const icon of ['off', 'idle', 'busy', 'paused', 'error'] as const) {
      assert.match(trayIconPath(folder, icon, 'darwin'), new RegExp(`/${icon}Template\\.png$`));
      for (const platform of ['darwin', 'win32', 'linux'] as const) {
        const path = trayIconPath(folder, icon, platform);
        assert.ok(existsSync(path), path);
        assert.ok(existsSync(path.replace(/\.png$/, '@2x.png')), `${path} @2x`);
      }
    }
  });
});

describe('window and dialogs', () => {
  it('closing the window hides it to the tray and says so once; on quit it closes', () => {
    let onClose: ((e: { preventDefault(): void }) => void) | undefined;
    let hidden = 0;
    let told = 0;
    const allowClose = keepInTrayOnClose({ on: ((_: string, fn: never) => void (onClose = fn)) as never, hide: () => void hidden++ }, () => void told++);
    let prevented = 0;
    onClose!({ preventDefault: () => void prevented++ });
    assert.equal(prevented, 1);
    assert.equal(hidden, 1);
    allowClose();
    onClose!({ preventDefault: () => void prevented++ });
    assert.equal(prevented, 1, 'closes for real once quitting');
    assert.equal(told, 1);
  });

  it('quit with sessions asks, with "let them finish" as the default', async () => {
    for (const [button, answer] of [[0, 'drain'], [1, 'stop-now'], [2, 'cancel']] as const) {
      let asked: { defaultId?: number; message?: string } = {};
      const result = await askAboutRunningSessions({ showMessageBox: (async (o: never) => ((asked = o), { response: button })) as never }, undefined, 2);
      assert.equal(result, answer);
      assert.equal(asked.defaultId, 0);
      assert.match(asked.message ?? '', /2 sessions are still running/);
    }
  });
});

describe('desktop notifications', () => {
  const item = { workId: 'work_1', environmentId: 'env_1', kind: 'session' as const, subjectId: 'sesn_1', claimedAt: 0, updatedAt: 0, logFile: '/data/logs/sessions/work_1.log' };
  const ended = (status: 'finished' | 'failed' | 'lost', reason: string, extra = {}): ServiceEvent => ({ name: 'item-state', payload: { ...item, ...extra, status, reason } });
  const workerIs = (payload: Extract<ServiceEvent, { name: 'worker-state' }>['payload']): ServiceEvent => ({ name: 'worker-state', payload });
  const refused = 'environment env_1: the control plane refused to hand out work (401 authentication_error: invalid x-api-key). Check the environment id and the environment key.';

  it('a session that failed or was lost: once each, opening its log; nothing for success or a stop by the user', () => {
    const policy = new NotificationPolicy();
    assert.equal(policy.decide(ended('finished', 'exited 0')), null);
    assert.equal(policy.decide(ended('finished', 'stopped: by the user')), null, 'a user stop is not a failure');
    assert.equal(policy.decide({ name: 'item-state', payload: { ...item, status: 'running' } }), null);
    const failed = policy.decide(ended('failed', 'exited 1'));
    assert.deepEqual(failed, { title: 'A session failed', body: 'sesn_1: exited 1', open: { view: 'log', environmentId: 'env_1', workId: 'work_1', title: 'sesn_1' } });
    assert.equal(policy.decide(ended('failed', 'exited 1')), null, 'the same item is not told twice');
    const lost = policy.decide(ended('lost', 'lease lost: another worker holds it', { workId: 'work_2', subjectId: 'sesn_2' }));
    assert.equal(lost?.title, 'A session was lost');
    assert.deepEqual(lost?.open, { view: 'log', environmentId: 'env_1', workId: 'work_2', title: 'sesn_2' });
    // A healthcheck has no log: its notice opens the Work view.
    const healthcheck = policy.decide(ended('failed', 'Docker is not reachable', { workId: 'work_3', kind: 'healthcheck', subjectId: 'hc_1', logFile: undefined }));
    assert.deepEqual([healthcheck?.title, healthcheck?.open], ['A healthcheck failed', { view: 'work' }]);
  });

  it('the worker stopping on a refused key: told once (its state, the notice that repeats it, the final state), opening setup', () => {
    const policy = new NotificationPolicy();
    assert.equal(policy.decide(workerIs({ status: 'starting' })), null);
    assert.equal(policy.decide(workerIs({ status: 'online', active: 0 })), null);
    const told = policy.decide(workerIs({ status: 'error', message: refused, keyRefused: true }));
    assert.deepEqual(told, { title: 'Outpost’s key was refused', body: refused, open: { view: 'setup' } });
    assert.equal(policy.decide({ name: 'notice', payload: { level: 'error', message: refused } }), null, 'the notice repeats the state');
    assert.equal(policy.decide(workerIs({ status: 'error', message: refused, keyRefused: true })), null, 'not again while it stays stopped');
    // Started again by the user and refused again: a new attempt, told again.
    policy.decide(workerIs({ status: 'starting' }));
    assert.ok(policy.decide(workerIs({ status: 'error', message: refused, keyRefused: true })));
    const unknown = policy.decide(workerIs({ status: 'error', message: 'environment env_9: the control plane refused to hand out work (404 not_found_error)' }));
    assert.equal(unknown?.title, 'Outpost stopped on an error');
    assert.deepEqual(unknown?.open, { view: 'setup' });
  });

  it('Docker gone: once until it is back; warnings and routine states tell nothing', () => {
    const policy = new NotificationPolicy();
    const gone = { status: 'online', active: 0, blockedBy: 'docker-unavailable' } as const;
    policy.decide(workerIs({ status: 'online', active: 0 }));
    assert.equal(policy.decide(workerIs(gone))?.title, 'Docker is not running');
    assert.equal(policy.decide(workerIs(gone)), null, 'not again while Docker stays away');
    policy.decide(workerIs({ status: 'online', active: 0 }));
    assert.ok(policy.decide(workerIs(gone)), 'gone again after it came back');
    for (const state of [{ status: 'paused', active: 0 }, { status: 'draining', active: 1, deadline: 1 }, { status: 'stopping', active: 0 }, { status: 'off' }] as const) {
      assert.equal(policy.decide(workerIs(state)), null, state.status);
    }
    assert.equal(policy.decide({ name: 'notice', payload: { level: 'warning', message: 'sessions run as root' } }), null);
    assert.equal(policy.decide({ name: 'open-view', payload: { view: 'work' } }), null);
  });

  it('turned off, nothing is shown, and turning them on later tells nothing stale', () => {
    const policy = new NotificationPolicy();
    assert.equal(policy.decide(ended('failed', 'exited 1'), false), null);
    assert.equal(policy.decide(workerIs({ status: 'error', message: refused, keyRefused: true }), false), null);
    assert.equal(policy.decide(ended('failed', 'exited 1'), true), null, 'already happened while off');
    assert.equal(policy.decide({ name: 'notice', payload: { level: 'error', message: refused } }, true), null);
    assert.ok(policy.decide(ended('failed', 'exited 2', { workId: 'work_9' }), true));
  });

  it('the adapter shows it through Electron’s Notification, and a click opens its view', () => {
    const shown: Array<{ options: { title: string; body: string }; listeners: Map<string, () => void> }> = [];
    class FakeNotification {
      readonly record: (typeof shown)[number];
      constructor(options: { title: string; body: string }) {
        this.record = { options, listeners: new Map() };
      }
      on(event: string, listener: () => void) {
        this.record.listeners.set(event, listener);
        return this;
      }
      show() {
        shown.push(this.record);
      }
    }
    const opened: OpenView[] = [];
    const notifications = new DesktopNotifications(FakeNotification);
    const notice: DesktopNotice = { title: 'A session failed', body: 'sesn_1: exited 1', open: { view: 'log', environmentId: 'env_1', workId: 'work_1', title: 'sesn_1' } };
    showNotice(notifications, notice, (view) => opened.push(view));
    assert.equal(shown.length, 1);
    assert.deepEqual(shown[0]!.options, { title: 'A session failed', body: 'sesn_1: exited 1' });
    assert.deepEqual(opened, []);
    shown[0]!.listeners.get('click')!();
    assert.deepEqual(opened, [{ view: 'log', environmentId: 'env_1', workId: 'work_1', title: 'sesn_1' }]);
  });

  it('each notification stays referenced until clicked, closed or failed (else a click can be lost to the garbage collector)', () => {
    const made: Array<Map<string, () => void>> = [];
    class FakeNotification {
      readonly listeners = new Map<string, () => void>();
      constructor() {
        made.push(this.listeners);
      }
      on(event: string, listener: () => void) {
        this.listeners.set(event, listener);
        return this;
      }
      show() {}
    }
    const notifications = new DesktopNotifications(FakeNotification);
    for (let i = 0; i < 3; i++) notifications.show('t', 'b');
    assert.equal(notifications.held, 3);
    made[0]!.get('click')!();
    made[1]!.get('close')!();
    assert.equal(notifications.held, 1);
    made[2]!.get('failed')!();
    assert.equal(notifications.held, 0);
  });

});

describe('what is packed', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    productName?: string;
    build: { appId: string; productName: string; mac: { extendInfo?: { LSUIElement?: boolean } }; win: { icon: string } };
  };

  it('the app’s name (and so its data folder) is Outpost: productName at the top level, where Electron’s app.getName() reads it', () => {
    assert.equal(pkg.productName, 'Outpost');
    assert.equal(pkg.build.productName, pkg.productName);
  });

  it('macOS: a tray app without a dock icon (LSUIElement); Windows: an ICO icon that exists', () => {
    assert.equal(pkg.build.mac.extendInfo?.LSUIElement, true);
    assert.match(pkg.build.win.icon, /\.ico$/);
    const ico = readFileSync(new URL(`../../${pkg.build.win.icon}`, import.meta.url));
    assert.deepEqual([...ico.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
    assert.ok(ico.readUInt16LE(4) >= 1);
  });
});
