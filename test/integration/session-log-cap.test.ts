import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerRuntime, type ContainerSpec } from '../../electron/core/runtime/docker.js';
import { sessionUser } from '../../electron/core/runtime/workspace.js';
import { buildScriptImage, docker } from '../helpers/docker.js';

const MiB = 2 ** 20;

describe('a session log has a size cap, so a flooding session cannot fill the disk', () => {
  const runtime = new DockerRuntime();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-log-cap-'));
  let flood: string;
  let echo: string;

  before(async () => {
    // 300 MiB of output in long lines, then a last word on stderr: a session that floods its log.
    flood = await buildScriptImage('outpost-test-flood:latest', 'echo first line; yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 314572800; echo done >&2');
    echo = await buildScriptImage('outpost-test-log-echo:latest', 'echo out line; echo err line >&2');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const spec = (image: string, name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
    image,
    name: `outpost-test-${name}-${process.pid}`,
    labels: {},
    env: {},
    workspaceDir: mkdtempSync(join(dir, 'ws-')),
    user: sessionUser(false),
    logFile: join(dir, `${name}.log`),
    networkMode: 'none',
    limits: {},
    ...extra,
  });

  it('writes one "log truncated" line at the cap and drops the rest, with the worker’s memory bounded', async () => {
    const s = spec(flood, 'flood', { limits: { logMb: 4 } });
    const rss = process.memoryUsage().rss;
    let peak = rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const container = await runtime.start(s);
    assert.equal(await container.exited, 0);
    await container.remove();
    clearInterval(sampler);
    const size = statSync(s.logFile).size;
    assert.ok(size > 4 * MiB - 1024 && size < 4 * MiB + 200, `the log is ${size} bytes`);
    const text = readFileSync(s.logFile, 'utf8');
    assert.ok(text.startsWith('first line\n'));
    assert.ok(text.endsWith('\n[outpost] log truncated at 4 MiB: the session printed more; the rest is not kept\n'), text.slice(-200));
    assert.equal(text.match(/log truncated/g)?.length, 1);
    assert.ok(peak - rss < 100 * MiB, `RSS grew ${((peak - rss) / MiB).toFixed(0)} MiB while the session printed 300 MiB`);
  });

  it('keeps a log under the cap whole, with no truncation line', async () => {
    const s = spec(echo, 'small', { limits: { logMb: 1 } });
    const container = await runtime.start(s);
    await container.exited;
    await container.remove();
    const text = readFileSync(s.logFile, 'utf8');
    assert.deepEqual(text.split('\n').sort(), ['', 'err line', 'out line']);
  });

  it('leaves Docker no copy of the output (log driver none), and attach still delivers it', async () => {
    const s = spec(echo, 'driver');
    const container = await runtime.start(s);
    const inspected = await docker.getContainer(container.id).inspect();
    await container.exited;
    await container.remove();
    assert.equal(inspected.HostConfig.LogConfig?.Type, 'none');
    assert.match(readFileSync(s.logFile, 'utf8'), /out line/);
  });
});
