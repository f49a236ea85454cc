import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endKind } from '../../renderer/src/ending.js';

describe('endKind: how a history item ended, from the status and reason the supervisor records', () => {
  it('tells every ending apart', () => {
    const cases: [Parameters<typeof endKind>, ReturnType<typeof endKind>][] = [
      [['finished', 'exited 0'], 'finished'],
      [['finished', 'healthcheck passed: Docker and the API answer'], 'finished'],
      [['finished', undefined], 'finished'],
      [['failed', 'exited 3'], 'failed'],
      [['failed', 'heartbeat rejected: 403 permission_error: no'], 'failed'],
      [['finished', 'stopped: by the user'], 'stopped-by-user'],
      [['finished', 'stopped by the control plane (state stopping)'], 'stopped-by-control-plane'],
      [['finished', 'the control plane did not extend the lease'], 'stopped-by-control-plane'],
      [['finished', 'stopped: Outpost is shutting down'], 'stopped-by-outpost'],
      [['finished', 'unsupported work type x; not run'], 'stopped-by-outpost'],
      [['finished', 'timeout exceeded'], 'timed-out'],
      [['lost', 'lease lost: the control plane says another worker holds it (412)'], 'lost'],
      [['lost', undefined], 'lost'],
    ];
    for (const [args, kind] of cases) assert.equal(endKind(...args), kind, JSON.stringify(args));
  });
});
