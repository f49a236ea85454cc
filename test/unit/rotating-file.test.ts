import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RotatingFile } from '../../electron/core/logs/rotating-file.js';

const end = (file: RotatingFile) => new Promise<void>((resolve) => file.end(() => resolve()));

describe('outpost.log in headless mode rotates, so it cannot grow without bound', () => {
  it('starts outpost.log.1 when the next line would pass the size, and keeps only `keep` old files', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'outpost-rotate-')), 'outpost.log');
    const file = new RotatingFile(path, { maxBytes: 100, keep: 2 });
    for (let i = 0; i < 100; i++) file.write(`line ${String(i).padStart(3, '0')} ${'x'.repeat(10)}\n`); // 20 bytes each
    await end(file);
    assert.equal(readFileSync(path, 'utf8'), Array.from({ length: 5 }, (_, i) => `line ${String(95 + i).padStart(3, '0')} xxxxxxxxxx\n`).join(''));
    assert.match(readFileSync(`${path}.1`, 'utf8'), /^line 090 /);
    assert.match(readFileSync(`${path}.2`, 'utf8'), /^line 085 /);
    assert.equal(existsSync(`${path}.3`), false);
    for (const p of [path, `${path}.1`, `${path}.2`]) {
      assert.ok(statSync(p).size <= 100);
      assert.equal(statSync(p).mode & 0o777, 0o600);
    }
  });

  it('appends to what an earlier run left, counting its size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-rotate-'));
    const path = join(dir, 'outpost.log');
    writeFileSync(path, 'a'.repeat(90) + '\n');
    const file = new RotatingFile(path, { maxBytes: 100, keep: 3 });
    file.write('twenty bytes line..\n');
    await end(file);
    assert.equal(readFileSync(path, 'utf8'), 'twenty bytes line..\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), 'a'.repeat(90) + '\n');
  });

  it('reports an unwritable path as an error event, as a write stream does', async () => {
    const file = new RotatingFile(join(tmpdir(), 'outpost-no-such-dir', 'x', 'outpost.log'));
    const error = await new Promise<Error>((resolve) => file.on('error', resolve));
    assert.match(error.message, /ENOENT/);
  });
});
