import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { Secret, redact } from '../../electron/core/secret.js';
import { createLogger } from '../../electron/core/log.js';

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
  it('leaves the redaction filter (one token per item must not pile up for weeks)', () => {
    const token = new Secret('per-item-token-value-77');
    assert.equal(redact('x per-item-token-value-77 y'), 'x [redacted] y');
    token.dispose();
    assert.equal(redact('x per-item-token-value-77 y'), 'x per-item-token-value-77 y');
  });
});
