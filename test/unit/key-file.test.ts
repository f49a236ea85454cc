import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readKeyFile } from '../../electron/core/cli/key-file.js';
import { Secret } from '../../electron/core/secrets/secret.js';

const KEY = 'sk-ant-env-from-a-file-0123456789';

/** `--environment-key-file`: a Docker/Kubernetes secret or systemd credential; anything else is refused in words, never quoted. */
describe('a key from a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-key-file-'));
  const file = (name: string, content: string | Buffer) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const problem = (path: string) => {
    const read = readKeyFile(path, '--environment-key-file');
    assert.ok(!(read instanceof Secret), `${path} was accepted`);
    return read.problem;
  };

  it('reads one key, with or without its trailing newline (echo, kubectl create secret --from-file)', () => {
    for (const content of [KEY, `${KEY}\n`, `${KEY}\r\n`]) {
      const read = readKeyFile(file('k', content), '--environment-key-file');
      assert.ok(read instanceof Secret);
      assert.equal(read.reveal(), KEY);
    }
  });

  it('refuses a missing file, a folder, a device, a fifo (without hanging), a huge file, an empty one, two lines, a short key', () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'nope'), /cannot open it \(ENOENT\)$/],
      [dir, /not a regular file$/],
      ['/dev/zero', /not a regular file$/],
      [join(dir, 'fifo'), /not a regular file$/],
      [file('huge', Buffer.alloc(1 << 20, 'a')), /1048576 bytes is too big for a key file/],
      [file('empty', ''), /the file is empty$/],
      [file('two', `${KEY}\n${KEY}\n`), /one key, alone/],
      [file('short', 'abc\n'), /too short to be a key/],
    ];
    for (const [path, expected] of cases) assert.match(problem(path), expected, path);
    assert.doesNotMatch(problem(file('two-again', `${KEY} ${KEY}`)), new RegExp(KEY), 'the words never quote the file');
  });
});
