import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { LoopbackProxy } from '../helpers/connect-proxy.js';
import { buildScriptImage } from '../helpers/docker.js';
import { startWorker, waitFor } from '../helpers/worker.js';

/**
 * The headless worker behind a proxy, as on a corporate network: with HTTPS_PROXY / HTTP_PROXY set
 * its control-plane calls go through that proxy (a real one, on loopback, started here), and with
 * NO_PROXY matching the API's host they go direct. The playground sees the calls either way: the
 * proxy's record is what tells the two apart.
 */
describe('the headless worker and the user’s proxy', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 5 });
  const proxy = new LoopbackProxy();
  let proxyUrl = '';

  before(async () => {
    await playground.start();
    proxyUrl = await proxy.start();
    await buildScriptImage('outpost-test-quick', 'echo quick; sleep 1');
  });
  after(async () => {
    await proxy.close();
    await playground.close();
  });

  const polls = () => playground.requests['work.poll'] ?? 0;
  /** The calls about one environment that the proxy carried. */
  const proxiedFor = (environmentId: string, what = '') => proxy.requestLines.filter((line) => line.includes(`/environments/${environmentId}/${what}`)).length;

  function serve(name: string, env: Record<string, string>) {
    const { environment, environmentKey } = playground.createEnvironment(name);
    const worker = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'], env });
    return { worker, environmentId: environment.id };
  }

  it('HTTPS_PROXY and HTTP_PROXY set, NO_PROXY not matching: every poll goes through the proxy', async () => {
    const { worker, environmentId } = serve('proxied', { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: 'example.invalid', no_proxy: 'example.invalid' });
    try {
      await waitFor('two polls through the proxy', () => proxiedFor(environmentId, 'work/poll') >= 2);
      assert.ok(proxy.connects.some((target) => target === new URL(playground.url).host), `a CONNECT tunnel to the API: ${proxy.connects.join(', ')}`);
      assert.ok(polls() >= 2, 'the control plane answered them');
      assert.match(worker.output(), /control-plane calls go through the proxy/);
    } finally {
      worker.signal('SIGTERM');
      assert.equal(await worker.exited, 0);
    }
  });

  it('NO_PROXY naming the API’s host: the polls go direct', async () => {
    const before = polls();
    const { worker, environmentId } = serve('direct', { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' });
    try {
      await waitFor('two polls', () => polls() >= before + 2);
      assert.equal(proxiedFor(environmentId), 0, `nothing of this worker through the proxy: ${proxy.requestLines.join('; ')} / ${proxy.connects.join('; ')}`);
    } finally {
      worker.signal('SIGTERM');
      assert.equal(await worker.exited, 0);
    }
  });
});
