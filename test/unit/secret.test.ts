import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { Secret, forgetForRedaction, redact, registerForRedaction } from '../../electron/core/secrets/secret.js';
import { createLogger } from '../../electron/core/logs/log.js';

describe('secrets and redaction', () => {
  it('a Secret prints as [redacted] however it is printed', () => {
    const s = new Secret('sk-ant-env-0123456789abcdef');
    assert.equal(String(s), '[redacted]');
    assert.equal(`${s}`, '[redacted]');
    assert.equal(JSON.stringify({ key: s }), '{"key":"[redacted]"}');
    assert.equal(inspect({ key: s }), '{ key: [redacted] }');
    assert.equal(s.reveal(), 'sk-ant-env-0123456789abcdef');
  });

  it('every log line goes through the one filter: known secrets and credential shapes are removed', () => {
    const token = new Secret('opaque-token-value-42');
    const lines: string[] = [];
    for (const format of ['text', 'json'] as const) {
      const log = createLogger({ format, sink: { write: (l) => lines.push(l) } });
      log.error(`request failed with ${token.reveal()}`, { body: 'key sk-ant-api03-abcdefghijkl was rejected', err: new Error(token.reveal()) });
    }
    for (const line of lines) {
      assert.ok(!line.includes('opaque-token-value-42'), line);
      assert.ok(!line.includes('sk-ant-api03-abcdefghijkl'), line);
      assert.match(line, /\[redacted\]/);
    }
    assert.equal(redact('nothing secret here'), 'nothing secret here');
  });
});

describe('a disposed secret', () => {
  it('leaves the redaction filter a minute later (one token per item must not pile up for weeks; its last words are still redacted)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const token = new Secret('per-item-token-value-77');
    assert.equal(redact('x per-item-token-value-77 y'), 'x [redacted] y');
    token.dispose();
    assert.equal(redact('x per-item-token-value-77 y'), 'x [redacted] y');
    t.mock.timers.tick(60_000);
    assert.equal(redact('x per-item-token-value-77 y'), 'x per-item-token-value-77 y');
  });

  it('stays redacted while another holder of the same value lives', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const first = new Secret('shared-token-value-88');
    new Secret('shared-token-value-88');
    first.dispose();
    t.mock.timers.tick(60_000);
    assert.equal(redact('shared-token-value-88'), '[redacted]');
  });
});

describe('the encoded forms of a secret', () => {
  it('JSON-escaped, URL-encoded and base64 / base64url — alone or inside a longer blob — are redacted too', () => {
    const value = 'tok"en\\with+/odd=chars-0001';
    new Secret(value);
    const blob = (prefix: string) => Buffer.from(`${prefix}{"sessions_token":"${value}"}`);
    for (const text of [
      JSON.stringify({ header: value }),
      `?key=${encodeURIComponent(value)}`,
      Buffer.from(value).toString('base64'),
      ...['', 'a', 'ab'].flatMap((p) => [blob(p).toString('base64'), blob(p).toString('base64url')]),
    ]) {
      assert.match(redact(text), /\[redacted\]/, text);
      assert.ok(!redact(text).includes(value), text);
    }
  });

  it('with hundreds of secrets held at once (a busy worker’s last minute of items), each is still found in every form, and other text is left alone', () => {
    const values = Array.from({ length: 400 }, (_, i) => `item-token-${i}-${'x'.repeat(i % 7)}tok/en+${i * 7919}`);
    for (const v of values) registerForRedaction(v);
    try {
      for (const v of [values[0]!, values[199]!, values[399]!]) {
        const blob = Buffer.from(`ab{"token":"${v}"}`);
        for (const text of [`line ${v} end`, JSON.stringify({ v }), encodeURIComponent(v), blob.toString('base64'), blob.toString('base64url')]) {
          assert.ok(!redact(text).includes(v) && redact(text).includes('[redacted]'), text);
        }
        assert.equal(redact(`${v}${v} and ${v}`), '[redacted][redacted] and [redacted]');
      }
      assert.equal(redact('an ordinary line with nothing secret: tok/en+7919'), 'an ordinary line with nothing secret: tok/en+7919');
    } finally {
      for (const v of values) forgetForRedaction(v);
    }
  });

  it('the JSON log format redacts before it escapes: a key with a `"` or a `\\` is not printed', () => {
    const value = 'quote"and\\slash-key-0002';
    new Secret(value);
    const lines: string[] = [];
    createLogger({ format: 'json', sink: { write: (l) => lines.push(l) } }).error(`refused ${value}`, { body: { echoed: value } });
    assert.ok(!lines[0]!.includes(JSON.stringify(value).slice(1, -1)), lines[0]);
    assert.equal(JSON.parse(lines[0]!).msg, 'refused [redacted]');
  });
});
