import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CappedSink, RedactingLines } from '../../electron/core/runtime/session-log.js';
import { Secret } from '../../electron/core/secrets/secret.js';

function writer() {
  const out: string[] = [];
  return { lines: new RedactingLines({ write: (s: string) => (out.push(s), true) } as never), text: () => out.join('') };
}

describe('the session log’s redaction', () => {
  const token = new Secret('sk-ant-sess-0123456789abcdefghijklmnop');
  const value = token.reveal();

  it('redacts a token split across chunks, and the last line without a newline', () => {
    const { lines, text } = writer();
    const printed = Buffer.from(`token=${value}\nplain line\nlast ${value}`);
    for (let at = 0; at < printed.length; at += 7) lines.write(printed.subarray(at, at + 7));
    lines.flush();
    assert.equal(text(), 'token=[redacted]\nplain line\nlast [redacted]');
  });

  it('keeps UTF-8 whole when a character is split between chunks', () => {
    const { lines, text } = writer();
    const printed = Buffer.from('naïve café ✓\n');
    lines.write(printed.subarray(0, 3));
    lines.write(printed.subarray(3));
    assert.equal(text(), 'naïve café ✓\n');
  });

  it('writes a line longer than 64 KiB with no newline in pieces, holding no more than that', () => {
    const { lines, text } = writer();
    for (let i = 0; i < 40; i++) lines.write(Buffer.alloc(4096, 'x'));
    assert.ok(text().length >= 100_000, `most of the flood is written before any newline (${text().length})`);
    lines.flush();
    assert.equal(text().length, 40 * 4096);
  });
});

describe('the session log’s cap', () => {
  const capped = (limit: number) => {
    const out: Buffer[] = [];
    const sink = new CappedSink({ write: (d: string | Buffer) => (out.push(Buffer.from(d)), true) }, limit);
    return { sink, text: () => Buffer.concat(out).toString('utf8') };
  };
  const NOTE = '[outpost] log truncated at 0 MiB: the session printed more; the rest is not kept\n';

  it('keeps whole lines up to the cap, then writes one truncation line and nothing more', () => {
    const { sink, text } = capped(10);
    sink.write('abc\n');
    sink.write('défg\nhij\n'); // 'défg\n' is 6 bytes: 4 + 6 = 10 fits; 'hij\n' does not
    sink.write('more\n');
    sink.write('x'.repeat(1000));
    assert.equal(text(), `abc\ndéfg\n${NOTE}`);
    assert.equal(sink.full, true);
  });

  it('ends a partial line before the truncation line', () => {
    const { sink, text } = capped(8);
    sink.write('abc');
    sink.write('defghijkl\n');
    assert.equal(text(), `abc\n${NOTE}`);
  });

  it('writes everything under the cap as it came', () => {
    const { sink, text } = capped(1024);
    sink.write('one\n');
    sink.write('two');
    assert.equal(text(), 'one\ntwo');
    assert.equal(sink.full, false);
  });
});
