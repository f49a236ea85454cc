import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret } from '../../electron/core/secrets/secret.js';
import { warmNetworkMode } from '../../electron/core/worker/warm-pool.js';
import type { SessionSettings } from '../../electron/core/worker/session-settings.js';

const session = (extra: Partial<SessionSettings>): SessionSettings => ({ image: 'outpost-session:latest', networkMode: 'bridge', limits: {}, graceSeconds: 1, ...extra });

describe('which profiles keep a warm container', () => {
  it('open: on the profile’s Docker network; none: on no network at all', () => {
    assert.equal(warmNetworkMode(session({})), 'bridge');
    assert.equal(warmNetworkMode(session({ egress: { policy: 'open', allowHosts: [] }, networkMode: 'host' })), 'host');
    assert.equal(warmNetworkMode(session({ egress: { policy: 'none', allowHosts: [] } })), 'none', 'never the bridge of an open profile');
  });

  it('api and allowlist start cold: their session joins a sidecar made for its item', () => {
    assert.equal(warmNetworkMode(session({ egress: { policy: 'api', allowHosts: [] } })), undefined);
    assert.equal(warmNetworkMode(session({ egress: { policy: 'allowlist', allowHosts: ['pypi.org'] } })), undefined);
  });

  it('a profile with variables starts cold: a warm container holds no secret before its item', () => {
    assert.equal(warmNetworkMode(session({ env: { TOKEN: new Secret('a-secret-value-1234') } })), undefined);
    assert.equal(warmNetworkMode(session({ env: { PLAIN: 'x' } })), undefined);
  });
});
