import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkMounts } from '../../electron/core/runtime/mounts.js';

describe('read-only mounts: a folder a session reads, never one that hands it the host', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-mounts-'));
  const dataDir = join(root, 'data');
  const datasets = join(root, 'datasets');
  mkdirSync(join(dataDir, 'workspaces'), { recursive: true });
  mkdirSync(datasets);
  symlinkSync(dataDir, join(root, 'innocent'));
  symlinkSync(join(dataDir, 'workspaces'), join(datasets, 'link-in'));

  it('mounts a folder at /mnt/<name>, or where asked, by its real path', () => {
    assert.deepEqual(checkMounts([{ source: datasets }], dataDir), [{ source: datasets, target: '/mnt/datasets' }]);
    assert.deepEqual(checkMounts([{ source: `${datasets}/`, target: '/data/./in' }], dataDir), [{ source: datasets, target: '/data/in' }]);
  });

  it('refuses /, the data folder, a folder inside it or holding it, and a symlink into it, saying why', () => {
    const refused: Array<[string, RegExp]> = [
      ['/', /refused to mount \/: the whole file system/],
      [dataDir, /Outpost’s data folder/],
      [join(dataDir, 'workspaces'), /Outpost’s data folder/],
      [root, /holds or is inside Outpost’s data folder/],
      [join(root, 'innocent'), /it leads to .*data\): it holds or is inside Outpost’s data folder/],
      [join(datasets, 'link-in'), /it leads to/],
      [join(root, 'nowhere'), /there is no such file or folder/],
    ];
    for (const [source, words] of refused) assert.throws(() => checkMounts([{ source }], dataDir), words, source);
  });

  it('refuses a folder that holds the Docker socket, and the socket itself', { skip: !existsSync('/var/run/docker.sock') }, () => {
    assert.throws(() => checkMounts([{ source: dirname('/var/run/docker.sock') }], dataDir), /runtime state/);
    assert.throws(() => checkMounts([{ source: '/var/run/docker.sock' }], dataDir), /runtime state/);
  });

  it('refuses the socket of the engine the current Docker context names, and Colima’s in the home', async () => {
    const config = mkdtempSync(join(tmpdir(), 'outpost-mount-context-'));
    const engineSocket = join(config, 'engine.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(engineSocket, resolve));
    const id = createHash('sha256').update('elsewhere').digest('hex');
    mkdirSync(join(config, 'contexts/meta', id), { recursive: true });
    writeFileSync(join(config, 'contexts/meta', id, 'meta.json'), JSON.stringify({ Name: 'elsewhere', Endpoints: { docker: { Host: `unix://${engineSocket}` } } }));
    const saved = { DOCKER_CONFIG: process.env['DOCKER_CONFIG'], DOCKER_CONTEXT: process.env['DOCKER_CONTEXT'], HOME: process.env['HOME'] };
    const home = mkdtempSync(join(tmpdir(), 'outpost-mount-home-'));
    mkdirSync(join(home, '.colima/default'), { recursive: true });
    const colima = createServer();
    await new Promise<void>((resolve) => colima.listen(join(home, '.colima/default/docker.sock'), resolve));
    Object.assign(process.env, { DOCKER_CONFIG: config, DOCKER_CONTEXT: 'elsewhere', HOME: home });
    try {
      assert.throws(() => checkMounts([{ source: engineSocket }], dataDir), /it holds the Docker socket .*engine\.sock, which would hand the session the host/);
      assert.throws(() => checkMounts([{ source: join(home, '.colima/default/docker.sock') }], dataDir), /it holds the Docker socket .*\.colima\/default\/docker\.sock/);
    } finally {
      for (const [name, value] of Object.entries(saved)) value === undefined ? delete process.env[name] : (process.env[name] = value);
      server.close();
      colima.close();
    }
  });

  it('refuses a target that hides the session’s own files, and two folders at one place', () => {
    assert.throws(() => checkMounts([{ source: datasets, target: '/workspace/data' }], dataDir), /hide the session’s own files/);
    assert.throws(() => checkMounts([{ source: datasets, target: '/' }], dataDir), /hide the session’s own files/);
    assert.throws(() => checkMounts([{ source: datasets }, { source: datasets }], dataDir), /another folder is mounted there/);
  });

  it('refuses special file systems, engine and runtime state, system config and root’s home by what they are', () => {
    const refused: Array<[string, RegExp]> = [
      ['/proc', /refused to mount \/proc: .*proc file system/],
      ['/proc/self', /proc file system/],
      ['/sys', /sysfs file system/],
      ['/dev', /devtmpfs file system|the host’s devices/],
      ['/etc', /the system’s configuration/],
      ['/root', /root’s home/],
      ['/run', /runtime state/],
      ['/var/run', /runtime state/],
      ['/var', /holds (runtime state|a container engine’s state)/],
    ];
    if (existsSync('/var/lib/docker')) refused.push(['/var/lib/docker', /a container engine’s state/]);
    if (existsSync('/sys/fs/cgroup')) refused.push(['/sys/fs/cgroup', /sysfs|cgroup/]);
    for (const [source, words] of refused) {
      if (!existsSync(source)) continue;
      assert.throws(() => checkMounts([{ source }], dataDir), words, source);
    }
  });

  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const listen = (path: string) =>
    new Promise<void>((resolve) => {
      const server = createServer();
      servers.push(server);
      server.listen(path, resolve);
    });

  it('refuses a folder that holds a unix socket anywhere beneath it, naming the socket', async () => {
    const project = mkdtempSync(join(tmpdir(), 'outpost-mount-socket-'));
    mkdirSync(join(project, 'run', 'containerd'), { recursive: true });
    writeFileSync(join(project, 'README'), 'hello\n');
    await listen(join(project, 'run', 'containerd', 'containerd.sock'));
    assert.throws(() => checkMounts([{ source: project }], dataDir), /refused to mount .*: it holds the socket .*containerd\.sock/);
    assert.throws(() => checkMounts([{ source: join(project, 'run') }], dataDir), /containerd\.sock/);
  });

  it('accepts a plain project folder (and a temp folder), whatever file system holds it', () => {
    const project = mkdtempSync(join(tmpdir(), 'outpost-project-'));
    mkdirSync(join(project, 'src', 'lib'), { recursive: true });
    writeFileSync(join(project, 'src', 'lib', 'index.ts'), 'export {};\n');
    symlinkSync('lib/index.ts', join(project, 'src', 'main.ts'));
    assert.deepEqual(checkMounts([{ source: project }], dataDir), [{ source: project, target: `/mnt/${project.split('/').pop()}` }]);
    assert.deepEqual(checkMounts([{ source: datasets }], dataDir), [{ source: datasets, target: '/mnt/datasets' }]);
  });
});
