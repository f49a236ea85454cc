import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scanForLines } from '../../electron/core/logs/search-scan.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-scan-'));
let files = 0;
/** Writes `text` and scans it all; `chunk` makes reads small, so that hits land on their boundaries. */
function scan(text: string, query: string, { limit = 100, chunk }: { limit?: number; chunk?: number } = {}) {
  const path = join(dir, `${files++}.log`);
  writeFileSync(path, text);
  return scanForLines(path, Buffer.byteLength(text), query, limit, chunk);
}

/** What the search means, stated plainly: the lines (split at \n) whose bytes hold the query's, A–Z folded to a–z. */
function reference(text: string, query: string, limit: number) {
  const fold = (s: string) => Buffer.from(Buffer.from(s).map((b) => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b)));
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const needle = fold(query);
  const hits = lines.flatMap((line, i) => (fold(line).includes(needle) ? [i] : []));
  return { matches: hits.slice(0, limit), total: hits.length };
}

describe('the log search’s scan (search-scan.ts)', () => {
  it('numbers the lines holding the query, ASCII letters in either case, each line once', () => {
    const text = 'Error: one\nfine\nan ERROR and an error\n\nnaïve café\nCAFÉ\n\u001b[31merror\u001b[0m in red\r\nlast error';
    assert.deepEqual(scan(text, 'error'), { matches: [0, 2, 6, 7], total: 4 });
    assert.deepEqual(scan(text, 'eRRoR', { limit: 2 }), { matches: [0, 2], total: 4 });
    // Only A–Z fold: é and É are different bytes, as before.
    assert.deepEqual(scan(text, 'café'), { matches: [4], total: 1 });
    assert.deepEqual(scan(text, 'CAFÉ'), { matches: [5], total: 1 });
    assert.deepEqual(scan(text, 'in red\r'), { matches: [6], total: 1 });
    assert.deepEqual(scan(text, 'absent'), { matches: [], total: 0 });
  });

  it('finds a query that straddles two reads, wherever the boundary falls', () => {
    const text = 'one\ntwo NEEDLE two\nthree\nneedle\n';
    for (let chunk = 1; chunk <= text.length; chunk++) {
      assert.deepEqual(scan(text, 'needle', { chunk }), { matches: [1, 3], total: 2 }, `reads of ${chunk} bytes`);
      assert.deepEqual(scan(text, 'é', { chunk }), { matches: [], total: 0 });
    }
    // The same with the scan's own reads (64 KiB), the needle at every offset around the first one's end.
    for (let at = 2 ** 16 - 8; at < 2 ** 16 + 16; at++) assert.deepEqual(scan(`${'x'.repeat(at)}neeDLE\nneedle\n`, 'needle'), { matches: [0, 1], total: 2 });
    // A character's two UTF-8 bytes split between two reads.
    for (let at = 2 ** 16 - 4; at < 2 ** 16 + 4; at++) {
      assert.deepEqual(scan(`\n${'x'.repeat(at)}é\n`, 'Xé'), { matches: [1], total: 1 });
      assert.deepEqual(scan(`\n${'x'.repeat(at)}é\n`, 'xÉ'), { matches: [], total: 0 });
    }
  });

  it('scans a line of 5 MiB, many reads long, with hits across it counted once', () => {
    const huge = `${'a'.repeat(3 * 2 ** 20 - 10)}NEEDLE${'b'.repeat(2 ** 20)} needle ${'c'.repeat(2 ** 20)}`;
    assert.deepEqual(scan(`before\n${huge}\nneedle after\n`, 'needle'), { matches: [1, 2], total: 2 });
    assert.deepEqual(scan(`${huge}`, 'c'), { matches: [0], total: 1 });
    assert.deepEqual(scan(`x\n${huge}`, `b needle c`), { matches: [1], total: 1 });
  });

  it('counts every line for an empty query, a last line without its newline too', () => {
    assert.deepEqual(scan('a\n\nc\n', ''), { matches: [0, 1, 2], total: 3 });
    assert.deepEqual(scan('a\n\nc', '', { chunk: 1 }), { matches: [0, 1, 2], total: 3 });
    assert.deepEqual(scan('a\nb\nc\nd', '', { limit: 2, chunk: 3 }), { matches: [0, 1], total: 4 });
    assert.deepEqual(scan('', ''), { matches: [], total: 0 });
  });

  it('stops at the size it was given, in a file that has grown since', () => {
    const path = join(dir, 'growing.log');
    writeFileSync(path, 'hit\nno\nhit\n');
    assert.deepEqual(scanForLines(path, 7, 'hit', 10), { matches: [0], total: 1 });
    assert.deepEqual(scanForLines(path, 10, 'hit', 10), { matches: [0, 2], total: 2 });
  });

  it('agrees with the plain meaning on random logs, queries and read sizes', () => {
    const pieces = ['a', 'A', 'b', 'B', 'ab', 'AB', '\n', '\n', '\r', 'é', 'É', '✓', '\u001b[36m', 'x'];
    const queryPieces = ['a', 'A', 'b', 'ab', 'é', 'É', '\r', '✓', '[36', 'x'];
    let seed = 25;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    for (let round = 0; round < 2000; round++) {
      const text = Array.from({ length: random(60) }, () => pieces[random(pieces.length)]).join('');
      const query = Array.from({ length: random(4) }, () => queryPieces[random(queryPieces.length)]).join('');
      const limit = 1 + random(5);
      const chunk = 1 + random(16);
      assert.deepEqual(scan(text, query, { limit, chunk }), reference(text, query, limit), `${JSON.stringify(text)} for ${JSON.stringify(query)}, reads of ${chunk}`);
    }
  });
});
