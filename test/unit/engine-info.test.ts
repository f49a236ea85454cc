import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineDescription, engineLine } from '../../electron/core/runtime/engine-info.js';

/** What engines answered, trimmed to the fields read (this machine's dockerd and Podman; the rest as their docs and issues show). */
const DOCKERD = { Platform: { Name: '' }, Components: [{ Name: 'Engine', Version: '20.10.24+dfsg1' }], Version: '20.10.24+dfsg1' };
const DOCKERD_INFO = { MemoryLimit: true, SwapLimit: true, CpuCfsQuota: true, PidsLimit: true, CgroupVersion: '1', CgroupDriver: 'cgroupfs', SecurityOptions: ['name=seccomp,profile=default'], OperatingSystem: 'Debian GNU/Linux 12 (bookworm)', Name: 'vm' };
const PODMAN = { Platform: { Name: 'linux/amd64/debian-12' }, Components: [{ Name: 'Podman Engine', Version: '4.3.1' }, { Name: 'Conmon', Version: 'conmon version 2.1.6' }], Version: '4.3.1' };

describe("what the engine's /version and /info say", () => {
  it('a rootful dockerd with every controller: Docker, nothing unenforced', () => {
    const d = engineDescription(DOCKERD, DOCKERD_INFO);
    assert.deepEqual([d.kind, d.version, d.rootless, d.unenforced], ['Docker', '20.10.24+dfsg1', false, []]);
    assert.equal(engineLine(d, 'unix:///var/run/docker.sock', 'the default socket'), 'Docker 20.10.24+dfsg1 (rootful, cgroup v1) at unix:///var/run/docker.sock, found by the default socket');
  });

  it('Podman by its component, rootless by SecurityOptions', () => {
    const d = engineDescription(PODMAN, { ...DOCKERD_INFO, CgroupVersion: '2', SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'] });
    assert.deepEqual([d.kind, d.version, d.rootless, d.userNamespaces, d.unenforced], ['Podman', '4.3.1', true, true, []]);
  });

  it('a rootless engine on cgroup v1 enforces no limit, whatever it reports: said', () => {
    const d = engineDescription(DOCKERD, { ...DOCKERD_INFO, SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'] });
    assert.equal(d.unenforced.length, 1);
    assert.match(d.unenforced[0]!, /rootless engine on cgroup v1 enforces no memory, CPU or process limit/);
  });

  it('each missing controller is named', () => {
    const d = engineDescription(DOCKERD, { ...DOCKERD_INFO, MemoryLimit: false, CpuCfsQuota: false, PidsLimit: false });
    assert.equal(d.unenforced.length, 3);
    assert.match(d.unenforced.join('\n'), /memory limits \(--memory\).*\n.*CPU limits \(--cpus\).*\n.*process limits \(--pids\)/);
    assert.match(engineDescription(DOCKERD, { ...DOCKERD_INFO, SwapLimit: false }).unenforced[0]!, /swap is not limited/);
  });

  it('the desktop engines by name', () => {
    assert.equal(engineDescription({ ...DOCKERD, Platform: { Name: 'Docker Desktop 4.30.0 (149282)' } }, { ...DOCKERD_INFO, OperatingSystem: 'Docker Desktop' }).kind, 'Docker Desktop');
    assert.equal(engineDescription(DOCKERD, { ...DOCKERD_INFO, OperatingSystem: 'OrbStack' }).kind, 'OrbStack');
    assert.equal(engineDescription(DOCKERD, { ...DOCKERD_INFO, Name: 'colima' }).kind, 'Colima');
    assert.equal(engineDescription(DOCKERD, { ...DOCKERD_INFO, Name: 'lima-rancher-desktop' }).kind, 'Rancher Desktop');
  });

  it('userns-remap on a rootful engine is said in the line', () => {
    const d = engineDescription(DOCKERD, { ...DOCKERD_INFO, SecurityOptions: ['name=seccomp,profile=default', 'name=userns'] });
    assert.match(engineLine(d, 'unix:///x', 'y'), /\(rootful, cgroup v1, user namespaces remapped\)/);
  });
});
