import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { createContainer } from '../../electron/core/runtime/create-container.js';

/** An engine whose creates each take 20 ms, counting how many are in flight at once. */
function engine(): { docker: Docker; most: () => number } {
  let inFlight = 0;
  let most = 0;
  const modem = {
    dial(_options: unknown, callback: (err: Error | null, data?: { Id: string; Warnings: string[] }) => void) {
      most = Math.max(most, ++inFlight);
      setTimeout(() => (inFlight--, callback(null, { Id: `c${most}`, Warnings: [] })), 20);
    },
  };
  return { docker: { modem, getContainer: (id: string) => ({ id }) } as unknown as Docker, most: () => most };
}

describe('container creates', () => {
  it('keep-id creates on one engine go one at a time (rootless Podman’s libsubid crashes on two at once), and each still answers', async () => {
    const { docker, most } = engine();
    const made = await Promise.all(Array.from({ length: 5 }, () => createContainer(docker, { Image: 'x', HostConfig: { UsernsMode: 'keep-id' } })));
    assert.equal(made.length, 5);
    assert.equal(most(), 1);
  });

  it('a failed keep-id create does not stop the next', async () => {
    let calls = 0;
    const docker = {
      modem: { dial: (_o: unknown, cb: (e: Error | null, d?: { Id: string }) => void) => setTimeout(() => (++calls === 1 ? cb(new Error('no such image')) : cb(null, { Id: 'ok' })), 5) },
      getContainer: (id: string) => ({ id }),
    } as unknown as Docker;
    const [first, second] = await Promise.allSettled([createContainer(docker, { HostConfig: { UsernsMode: 'keep-id' } }), createContainer(docker, { HostConfig: { UsernsMode: 'keep-id' } })]);
    assert.equal(first.status, 'rejected');
    assert.equal(second.status, 'fulfilled');
  });

  it('other creates are not held', async () => {
    const { docker, most } = engine();
    await Promise.all(Array.from({ length: 3 }, () => createContainer(docker, { Image: 'x', HostConfig: { UsernsMode: 'container:abc' } })));
    assert.equal(most(), 3);
  });
});
