import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deadline } from '../../electron/core/base/timing.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('deadlines', () => {
  it('a deadline fires even when a garbage collection runs before it (Node 20 drops AbortSignal.timeout inside AbortSignal.any)', async () => {
    const other = new AbortController();
    const signal = deadline(200, other.signal);
    await new Promise((r) => setTimeout(r, 20));
    gc();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).name, 'TimeoutError');
  });

  it('aborts at once with any of its signals, and not before', async () => {
    const other = new AbortController();
    const signal = deadline(10_000, other.signal);
    assert.equal(signal.aborted, false);
    other.abort(new Error('stop now'));
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).message, 'stop now');
  });
});
