import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { openEgressPath } from '../../electron/core/runtime/session-egress.js';
import { Secret } from '../../electron/core/secrets/secret.js';
import { canWaitWarm } from '../../electron/core/worker/warm-pool.js';
import type { SessionSettings } from '../../electron/core/worker/session-settings.js';

const session = (extra: Partial<SessionSettings>): SessionSettings => ({ image: 'outpost-session:latest', networkMode: 'bridge', limits: {}, graceSeconds: 1, ...extra });

describe('which profiles keep a warm container', () => {
  it('every policy waits warm: open, none, and api and allowlist with their sidecar', () => {
    for (const policy of ['open', 'none', 'api', 'allowlist'] as const) assert.equal(canWaitWarm(session({ egress: { policy, allowHosts: [] } })), true, policy);
    assert.equal(canWaitWarm(session({})), true);
  });

  it('a profile with variables starts cold: a warm container holds no secret before its item', () => {
    assert.equal(canWaitWarm(session({ env: { TOKEN: new Secret('a-secret-value-1234') } })), false);
    assert.equal(canWaitWarm(session({ env: { PLAIN: 'x' } })), false);
  });

  it('open waits on the profile’s Docker network, none on no network at all; neither needs a sidecar', async () => {
    // No engine is asked for either: a Docker that throws on any use proves it.
    const docker = new Proxy({}, { get: () => { throw new Error('no engine call expected'); } }) as unknown as Docker;
    const base = { docker, name: 'n', labels: {}, user: { uid: 65532, gid: 65532 } };
    assert.equal((await openEgressPath({ ...base, settings: { policy: 'open', allowHosts: [] }, openNetworkMode: 'host' })).networkMode, 'host');
    assert.equal((await openEgressPath({ ...base, settings: { policy: 'none', allowHosts: [] }, openNetworkMode: 'bridge' })).networkMode, 'none', 'never the bridge of an open profile');
  });
});
