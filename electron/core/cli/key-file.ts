import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { MIN_SECRET_LENGTH, Secret } from '../secrets/secret.js';

/** Far above any key; a bigger "key file" is a mistake (a log, /dev/zero), not read. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * A key from a file (`--environment-key-file`): a Docker or Kubernetes secret, or systemd's
 * credentials folder. Only a regular file is read (opened non-blocking, so a fifo named by mistake
 * does not hang the worker), at most 64 KiB, its trailing newline dropped. The path travels in argv,
 * the key never does. Returns the key or what is wrong, in words that never quote the file's content.
 */
export function readKeyFile(path: string, flag: string): Secret | { problem: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return { problem: `${flag} ${path}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { problem: `${flag} ${path}: not a regular file` };
    if (stat.size > MAX_KEY_FILE_BYTES) return { problem: `${flag} ${path}: ${stat.size} bytes is too big for a key file (at most ${MAX_KEY_FILE_BYTES})` };
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > MAX_KEY_FILE_BYTES) return { problem: `${flag} ${path}: too big for a key file (at most ${MAX_KEY_FILE_BYTES} bytes)` };
    const key = buffer.subarray(0, length).toString('utf8').replace(/\r?\n$/, '');
    buffer.fill(0);
    if (key.length === 0) return { problem: `${flag} ${path}: the file is empty` };
    if (/\s/.test(key)) return { problem: `${flag} ${path}: the key holds a space or a line break (one key, alone, is expected)` };
    if (key.length < MIN_SECRET_LENGTH) return { problem: `${flag} ${path}: too short to be a key (fewer than ${MIN_SECRET_LENGTH} characters)` };
    return new Secret(key);
  } catch (e) {
    return { problem: `${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  } finally {
    closeSync(fd);
  }
}
