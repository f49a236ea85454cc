/**
 * A folder of this machine in the form the engine takes for a bind mount's source. On Linux and macOS
 * the path itself. On Windows, Docker Desktop's WSL2 engine runs in a Linux VM that sees the Windows
 * drives under /run/desktop/mnt/host/<drive letter, lower case>/: the docker CLI translates `C:\…`
 * itself, but the API — which Outpost speaks — takes `C:\Users\a\x:/workspace` in no form that every
 * report agrees on, while the VM's own path is accepted. Sources: docker/for-win#5066 ("paths needs to be
 * prefixed with /run/desktop/mnt/host/{drive letter}/" for a mount made through the API on the WSL2
 * backend), the Mounts' Source that `docker inspect` shows there (tinyclub/cloud-lab#4:
 * /run/desktop/mnt/host/wsl/…), and docker/for-win#5888: a `\\wsl$\…` share is not taken as a source.
 * Not run here (no Windows machine): unit-tested as a mapping only.
 */
export function engineHostPath(path: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32') return path;
  // \\?\C:\… is the long-path form of C:\…
  const plain = path.replace(/^\\\\\?\\(?=[A-Za-z]:)/, '');
  const drive = /^([A-Za-z]):(?:[\\/](.*))?$/.exec(plain);
  if (!drive) {
    throw new Error(
      `${path}: Docker Desktop can bind-mount only a folder on a drive of this machine (C:\\…), not a network share, a \\\\wsl$ path or a relative one: choose a data folder on a local drive`,
    );
  }
  const rest = (drive[2] ?? '')
    .split(/[\\/]+/)
    .filter((part) => part !== '')
    .join('/');
  return `/run/desktop/mnt/host/${drive[1]!.toLowerCase()}${rest ? `/${rest}` : ''}`;
}
