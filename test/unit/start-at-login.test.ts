import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { applyStartAtLogin, autostartEntryPath, execArgument, HIDDEN_FLAG, startedAtLogin, type LoginItemApp } from '../../electron/app/start-at-login.js';

const homes: string[] = [];
after(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-home-'));
  homes.push(dir);
  return dir;
};
const recordingApp = (login: ReturnType<LoginItemApp['getLoginItemSettings']> = {}) => {
  const set: unknown[] = [];
  return { set, setLoginItemSettings: (s: unknown) => void set.push(s), getLoginItemSettings: () => login };
};

describe('start at login', () => {
  it('Linux: an XDG autostart entry, written on and removed off; Electron’s login item (a no-op there) is not relied on', () => {
    const dir = home();
    const app = recordingApp();
    const command = ['/opt/Out post/outpost'];
    applyStartAtLogin(true, { platform: 'linux', app, command, home: dir, env: {} });
    const entry = join(dir, '.config/autostart/outpost.desktop');
    const text = readFileSync(entry, 'utf8');
    assert.match(text, /^\[Desktop Entry\]\nType=Application\n/);
    assert.match(text, /^Exec="\/opt\/Out post\/outpost" --hidden$/m, 'the path stays one argument; started hidden');
    assert.deepEqual(app.set, []);
    applyStartAtLogin(false, { platform: 'linux', app, command, home: dir, env: {} });
    assert.equal(existsSync(entry), false);
    applyStartAtLogin(false, { platform: 'linux', app, command, home: dir, env: {} });
  });

  it('Linux: XDG_CONFIG_HOME is honoured when absolute, ignored when relative', () => {
    assert.equal(autostartEntryPath('/home/u', { XDG_CONFIG_HOME: '/cfg' }), '/cfg/autostart/outpost.desktop');
    assert.equal(autostartEntryPath('/home/u', { XDG_CONFIG_HOME: 'cfg' }), '/home/u/.config/autostart/outpost.desktop');
  });

  it('an Exec argument survives the desktop entry’s own unquoting (checked with a shell, which the spec’s rules follow)', () => {
    for (const arg of ['/plain/path', '/a b/c', '/with "quotes"/x', '/dollar$HOME/`x`', '/back\\slash']) {
      const quoted = execArgument(arg);
      // Desktop-entry quoting is a subset of sh's double quotes: sh must read back the one argument.
      const echoed = execFileSync('sh', ['-c', `printf '%s' ${quoted}`], { encoding: 'utf8' });
      assert.equal(echoed, arg);
    }
    assert.equal(execArgument('/x/50%'), '/x/50%%', 'no field code');
  });

  it('macOS and Windows: Electron’s login item; Windows passes the hidden flag', () => {
    const mac = recordingApp();
    applyStartAtLogin(true, { platform: 'darwin', app: mac, command: [], home: '/nowhere', env: {} });
    assert.deepEqual(mac.set, [{ openAtLogin: true, openAsHidden: true }]);
    const win = recordingApp();
    applyStartAtLogin(true, { platform: 'win32', app: win, command: [], home: '/nowhere', env: {} });
    assert.deepEqual(win.set, [{ openAtLogin: true, args: [HIDDEN_FLAG] }]);
  });

  it('tells a login start apart: the flag, or macOS’s wasOpenedAtLogin', () => {
    assert.equal(startedAtLogin(['/x', '--hidden'], 'linux', recordingApp()), true);
    assert.equal(startedAtLogin(['/x'], 'linux', recordingApp({ wasOpenedAtLogin: true })), false);
    assert.equal(startedAtLogin(['/x'], 'darwin', recordingApp({ wasOpenedAtLogin: true })), true);
    assert.equal(startedAtLogin(['/x'], 'darwin', recordingApp()), false);
  });
});
