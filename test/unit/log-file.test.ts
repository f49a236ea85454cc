import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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

  it('searches case-insensitively across chunk boundaries, with the total beyond the limit', () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => (i % 50_000 === 7 ? `Needle ${i} ✓` : `hay ${i} ✓`));
    const log = new LogFile(file(lines.join('\n') + '\n'));
    assert.deepEqual(log.search('needle', 10), { matches: [7, 50_007, 100_007, 150_007], total: 4 });
    assert.deepEqual(log.search('needle', 2), { matches: [7, 50_007], total: 4 });
    assert.deepEqual(log.lines(150_007, 1), ['Needle 150007 ✓']);
  });

  it('counts a line with two hits once, and finds non-ASCII text as written', () => {
    const log = new LogFile(file('ERROR error\nfine\nnaïve café\n'));
    assert.deepEqual(log.search('Error', 10), { matches: [0], total: 1 });
    assert.deepEqual(log.search('café', 10), { matches: [2], total: 1 });
    assert.deepEqual(log.search('absent', 10), { matches: [], total: 0 });
  });

  it('answers for a log not written yet', () => {
    const log = new LogFile(join(tmpdir(), 'outpost-no-such.log'));
    assert.deepEqual(log.info(), { lines: 0, bytes: 0 });
    assert.deepEqual(log.lines(0, 10), []);
  });
});
