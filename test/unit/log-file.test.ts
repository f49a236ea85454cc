import assert from 'node:assert/strict';
import { appendFileSync, createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LogFile } from '../../electron/core/logs/log-file.js';

const file = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'outpost-log-')), 'a.log');
  writeFileSync(path, text);
  return path;
};

describe('a log read by line (the window’s log view)', () => {
  it('gives any window of lines, and counts a trailing partial line', () => {
    const log = new LogFile(file('one\ntwo\r\nthree\nfour'));
    assert.deepEqual(log.info(), { lines: 4, bytes: 19 });
    assert.deepEqual(log.lines(0, 2), ['one', 'two']);
    assert.deepEqual(log.lines(2, 10), ['three', 'four']);
    assert.deepEqual(log.lines(4, 10), []);
  });

  it('follows a growing file: the partial line completes, new lines appear', () => {
    const path = file('first\nsec');
    const log = new LogFile(path);
    assert.deepEqual(log.lines(0, 5), ['first', 'sec']);
    appendFileSync(path, 'ond\nthird\n');
    assert.equal(log.info().lines, 3);
    assert.deepEqual(log.lines(1, 5), ['second', 'third']);
  });

  it('starts over when the file is replaced by a shorter one', () => {
    const path = file('a\nb\nc\nd\n');
    const log = new LogFile(path);
    assert.equal(log.info().lines, 4);
    writeFileSync(path, 'x\n');
    assert.deepEqual(log.lines(0, 5), ['x']);
  });

  it('searches case-insensitively across chunk boundaries, with the total beyond the limit', async () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => (i % 50_000 === 7 ? `Needle ${i} ✓` : `hay ${i} ✓`));
    const log = new LogFile(file(lines.join('\n') + '\n'));
    assert.deepEqual(await log.search('needle', 10), { matches: [7, 50_007, 100_007, 150_007], total: 4 });
    assert.deepEqual(await log.search('needle', 2), { matches: [7, 50_007], total: 4 });
    assert.deepEqual(log.lines(150_007, 1), ['Needle 150007 ✓']);
  });

  it('counts a line with two hits once, and finds non-ASCII text as written', async () => {
    const log = new LogFile(file('ERROR error\nfine\nnaïve café\n'));
    assert.deepEqual(await log.search('Error', 10), { matches: [0], total: 1 });
    assert.deepEqual(await log.search('café', 10), { matches: [2], total: 1 });
    assert.deepEqual(await log.search('absent', 10), { matches: [], total: 0 });
  });

  it('answers for a log not written yet', () => {
    const log = new LogFile(join(tmpdir(), 'outpost-no-such.log'));
    assert.deepEqual(log.info(), { lines: 0, bytes: 0 });
    assert.deepEqual(log.lines(0, 10), []);
  });

  it('finds a hit on the first line, the last line without a newline, and around empty lines', async () => {
    const log = new LogFile(file('hit\n\n\nx hit hit\nno\r\n\nhit'));
    assert.deepEqual(await log.search('hit', 10), { matches: [0, 3, 6], total: 3 });
  });

  // Searching a 500 MB log on the main thread would hold the event loop (heartbeats, polls, the dashboard) ~1.9 s.
  it('searches a 100 MB log without holding the event loop', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'outpost-log-')), 'big.log');
    const out = createWriteStream(path);
    const block = Array.from({ length: 20_000 }, (_, i) => `line ${i} \u001b[36mtool\u001b[0m bash ok: nothing to see here, nothing\n`).join('');
    let written = 0;
    for (let i = 0; written < 100 * 2 ** 20; i++) {
      const text = i === 40 ? block.replace('line 7 ', 'line 7 the NEEDLE ') : block;
      written += Buffer.byteLength(text);
      if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(() => r()));
    const log = new LogFile(path);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const ticks = setInterval(() => {}, 1);
    delay.enable();
    // A held loop shows as the gap between two of the histogram's samples: let it take a first one.
    await new Promise((r) => setTimeout(r, 20));
    const found = await log.search('needle', 10);
    // The histogram learns of a held loop only when its timer fires late: let it fire once more.
    await new Promise((r) => setTimeout(r, 20));
    delay.disable();
    clearInterval(ticks);
    assert.deepEqual(found, { matches: [40 * 20_000 + 7], total: 1 });
    assert.ok(delay.max / 1e6 < 100, `the event loop was held for ${(delay.max / 1e6).toFixed(0)} ms`);
  });
});
