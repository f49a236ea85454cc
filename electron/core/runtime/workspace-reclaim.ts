import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { LABEL, SESSION_IMAGE } from './labels.js';
import type { ContainerIdentity } from './user-mapping.js';
import { engineHostPath } from './host-path.js';
import { createContainer } from './create-container.js';

/** Runs in Outpost's session image, for its Node (the egress forwarder does too). */
export const RECLAIM_IMAGE = `${SESSION_IMAGE}:latest`;

/**
 * Only what changing another uid's files takes: CHOWN to give them away, FOWNER to chmod a file that
 * is not root's, DAC_OVERRIDE to enter and read folders the session closed. No MKNOD, SETUID, NET_* or SYS_*.
 */
const RECLAIM_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'];

/**
 * The pass inside the container, over /workspace: device nodes, fifos and sockets removed; setuid and
 * setgid bits and group or world write stripped, folders made u+rwx; every entry given to uid:gid.
 * A link is never followed: it is lchowned, and every other entry is changed through a descriptor
 * opened with O_NOFOLLOW and checked to be the entry that was looked at.
 */
const RECLAIM = `
const fs = require('node:fs');
const { join } = require('node:path');
const [uid, gid] = process.argv.slice(1).map(Number);
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
let failed = 0;
const walk = (path) => {
  let stat;
  try {
    stat = fs.lstatSync(path);
    if (stat.isBlockDevice() || stat.isCharacterDevice() || stat.isFIFO() || stat.isSocket()) return fs.rmSync(path, { force: true });
    if (stat.isSymbolicLink()) return fs.lchownSync(path, uid, gid);
    const fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const opened = fs.fstatSync(fd);
      if (opened.ino !== stat.ino || opened.dev !== stat.dev) throw new Error('changed under the pass');
      fs.fchmodSync(fd, ((stat.mode & 0o7777) & ~0o6022) | (stat.isDirectory() ? 0o700 : 0));
      fs.fchownSync(fd, uid, gid);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    failed++;
    console.error(path + ': ' + e.message);
    return;
  }
  if (!stat.isDirectory()) return;
  let names = [];
  try {
    names = fs.readdirSync(path);
  } catch (e) {
    failed++;
    console.error(path + ': ' + e.message);
  }
  for (const name of names) walk(join(path, name));
};
walk('/workspace');
process.exitCode = failed ? 1 : 0;
`;

/**
 * Hands every file of a workspace to `owner`, defused, through a short-lived container that runs as
 * root: for an Outpost that is not root (a desktop user) after a session that ran as root by the
 * profile's choice (allowRoot). Such a session can leave a setuid-root file or a world-writable folder
 * of root's that the user's Outpost cannot change; the engine can. The container has no network, a
 * read-only root, no-new-privileges, and of root's capabilities only what chown and chmod need.
 * Its labels (install, instance) let startup recovery remove it if Outpost dies meanwhile. `owner` is the
 * user as the engine maps them inside (user-mapping.ts): uid 0 under rootless Docker, keep-id's under Podman.
 */
export async function reclaimWorkspace(docker: Docker, dir: string, owner: ContainerIdentity, labels: Record<string, string>): Promise<void> {
  const { container } = await createContainer(docker, {
    Image: RECLAIM_IMAGE,
    Entrypoint: ['/usr/local/bin/node', '-e', RECLAIM],
    Cmd: [String(owner.uid), String(owner.gid)],
    User: '0:0',
    Labels: { ...labels, [LABEL.role]: 'reclaim' },
    Env: [],
    WorkingDir: '/',
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: 'none',
      ...(owner.usernsMode ? { UsernsMode: owner.usernsMode } : {}),
      Binds: [`${engineHostPath(dir)}:/workspace`],
      LogConfig: { Type: 'none', Config: {} },
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      CapAdd: RECLAIM_CAPABILITIES,
      Memory: 256 * 2 ** 20,
      PidsLimit: 32,
    },
  });
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    docker.modem.demuxStream(stream, out, out);
    let printed = '';
    out.on('data', (chunk: Buffer) => void (printed.length < 4_000 && (printed += chunk.toString())));
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) throw new Error(`the engine could not defuse every file (exit ${StatusCode}): ${printed.trim().slice(0, 500)}`);
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
