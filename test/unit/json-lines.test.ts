import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { latestByKey } from '../../electron/core/store/json-lines.js';

const record = z.object({ id: z.number(), state: z.string() });

describe('a JSON-lines record file read back (history, a session’s connections)', () => {
  it('keeps the last record of each key, and skips a torn line, a line of another shape, and junk', () => {
    const text = [
      '{"id":1,"state":"open"}',
      '{"id":2,"state":"open"}',
      '{"id":1,"state":"closed"}',
      '{"id":3,"state":',
      '{"id":"3","state":"open"}',
      'null',
      '[]',
      '',
      '\u0000\u0000',
    ].join('\n');
    assert.deepEqual(latestByKey(text, record, (r) => r.id), [
      { id: 1, state: 'closed' },
      { id: 2, state: 'open' },
    ]);
  });

  it('a huge file of one key repeated holds one record', () => {
    const text = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ id: 7, state: `s${i}` })).join('\n');
    assert.deepEqual(latestByKey(text, record, (r) => r.id), [{ id: 7, state: 's49999' }]);
  });
});
