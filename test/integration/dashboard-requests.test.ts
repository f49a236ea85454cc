import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { startDashboard, type Dashboard } from '../helpers/browser.js';
import { buildScriptImage, outpostContainers } from '../helpers/docker.js';
import { waitFor } from '../helpers/worker.js';

/** Sends `request` as raw bytes (what no browser would send) and returns the status line, or what happened. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', (e) => resolve(`socket error: ${e.message}`));
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

/** Whatever a request carries, the dashboard answers it, and the worker and its sessions go on. */
describe('the dashboard never dies from a request', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 5 });
  let dashboard: Dashboard;
  let port: number;

  before(async () => {
    await playground.start();
    await buildScriptImage('outpost-test-sleep', 'echo sleeping; exec sleep 600');
  });
  after(async () => {
    if (dashboard?.proc.exitCode === null) dashboard.signal('SIGKILL');
    await playground.close();
  });

  it('answers malformed targets 400 while a session runs, and stays up', async () => {
    const { environment, environmentKey } = playground.createEnvironment('hostile-requests');
    const item = playground.enqueue(environment.id);
    dashboard = await startDashboard({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-sleep'] });
    port = Number(new URL(dashboard.url).port);
    await dashboard.waitForOutput(/session running/, 30_000);
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const hostile: Array<[string, RegExp]> = [
      [`GET http://[/ HTTP/1.1\r\n${host}\r\n`, / 400 /],
      [`GET /%E0%A4%A HTTP/1.1\r\n${host}\r\n`, / 400 /],
      [`GET /%ZZ HTTP/1.1\r\n${host}\r\n`, / 400 /],
      [`GET /a%00b.js HTTP/1.1\r\n${host}\r\n`, / 404 /],
      [`GET /..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\n${host}\r\n`, / 404 /],
      [`GET /${'a/'.repeat(4000)} HTTP/1.1\r\n${host}\r\n`, / 4\d\d /],
      [`GARBAGE\r\n\r\n`, / 400 /],
    ];
    for (const [request, expected] of hostile) assert.match(await raw(port, request), expected, JSON.stringify(request.slice(0, 40)));
    assert.equal(dashboard.proc.exitCode, null, 'the process is still running');
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200, 'and still serves the window');
    assert.equal(playground.record(item.id).item.state, 'active', 'the session was never interrupted');
    dashboard.signal('SIGTERM');
    dashboard.signal('SIGTERM');
    assert.equal(await dashboard.exited, 0);
    await waitFor('no container left', async () => (await outpostContainers(dashboard.installId())).length === 0, 10_000);
  });
});
