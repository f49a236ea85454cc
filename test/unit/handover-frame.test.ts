import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { frameHandover, HandoverReader, HandoverRefused, MAX_PREFIX_BYTES, type Handover } from '../../electron/core/runtime/handover-frame.js';

const ITEM: Handover = {
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:4010',
  ANTHROPIC_SESSION_ID: 'sesn_1',
  ANTHROPIC_AUTH_TOKEN: 'sk-ant-sessions-token',
};

/** Feed the bytes in chunks of `size` (1: byte by byte), as a pipe may cut them; the item, or the refusal's words. */
function read(bytes: Buffer, size = bytes.length): Handover | string | undefined {
  const reader = new HandoverReader();
  try {
    for (let at = 0; at < bytes.length; at += size) {
      const item = reader.push(bytes.subarray(at, at + size));
      if (item) return item;
    }
    return reader.end().message;
  } catch (e) {
    assert.ok(e instanceof HandoverRefused);
    return e.message;
  }
}

/** What Podman's service put on a session's stdin before the handover: dockerode's attach body. */
const PODMAN_BODY = '{"stream":true,"stdout":true,"stderr":true,"stdin":true,"hijack":true}';

describe('the handover frame', () => {
  it('a frame alone is read whole, in one chunk or byte by byte', () => {
    assert.deepEqual(read(frameHandover(ITEM)), ITEM);
    assert.deepEqual(read(frameHandover(ITEM), 1), ITEM);
  });

  it('a stray prefix before the frame is skipped: Podman’s attach body, random bytes, a partial marker', () => {
    assert.deepEqual(read(Buffer.concat([Buffer.from(PODMAN_BODY), frameHandover(ITEM)])), ITEM);
    assert.deepEqual(read(Buffer.concat([Buffer.from(PODMAN_BODY), frameHandover(ITEM)]), 7), ITEM);
    assert.deepEqual(read(Buffer.concat([randomBytes(10_000), frameHandover(ITEM)]), 333), ITEM);
    assert.deepEqual(read(Buffer.concat([Buffer.from('\nOUTPOST-HAND'), frameHandover(ITEM)])), ITEM);
    assert.deepEqual(read(Buffer.concat([Buffer.from('OUTPOST-HANDOVER v1 \n'), frameHandover(ITEM)])), ITEM, 'the marker counts only after a newline');
    assert.deepEqual(read(Buffer.concat([Buffer.alloc(MAX_PREFIX_BYTES - 1, 'x'), frameHandover(ITEM)]), 4096), ITEM, 'up to the bound');
  });

  it('a wrong length or checksum is refused in words', () => {
    const frame = frameHandover(ITEM).toString('utf8');
    const [, header, json] = /^\n(OUTPOST-HANDOVER v1 \d+ [0-9a-f]{64})\n(.*)\n$/s.exec(frame)!;
    const [, , length, sha] = header!.split(' ');
    const garbled = json!.replace('sesn_1', 'sesn_2');
    assert.equal(read(Buffer.from(`\n${header}\n${garbled}\n`)), 'the handover’s checksum does not match its frame: it was garbled on the way');
    const longer = `\nOUTPOST-HANDOVER v1 ${Number(length) - 1} ${sha}\n${json}\n`;
    assert.equal(read(Buffer.from(longer)), 'the handover is not as long as its frame says: it was garbled on the way');
    assert.equal(read(Buffer.from(`\nOUTPOST-HANDOVER v1 ${length} nothex\n${json}\n`)), 'the handover’s frame header is malformed');
    assert.equal(read(Buffer.from(`\nOUTPOST-HANDOVER v1 9999999 ${sha}\n`)), 'the handover is too long (9999999 bytes; at most 65536)');
  });

  it('gives up after 64 KiB with no marker, and says why a stream that closed gave nothing', () => {
    assert.equal(read(Buffer.alloc(200 * 1024, 'a'), 4096), 'no handover came within the first 64 KiB: whoever writes here is not Outpost');
    assert.equal(read(Buffer.alloc(0)), 'the handover closed before an item was handed over (a warm container that was not used)');
    assert.equal(read(frameHandover(ITEM).subarray(0, 40)), 'the handover closed in the middle of a frame');
  });

  it('takes only an object of strings by the names a session reads', () => {
    const framed = (json: string) => Buffer.from(`\nOUTPOST-HANDOVER v1 ${Buffer.byteLength(json)} ${createHash('sha256').update(json).digest('hex')}\n${json}\n`);
    assert.equal(read(framed(JSON.stringify({ ...ITEM, NODE_OPTIONS: '--require /tmp/evil.js' }))), 'the handover holds a name or value it may not');
    assert.equal(read(framed(JSON.stringify({ ANTHROPIC_SESSION_ID: { toString: 'x' } }))), 'the handover holds a name or value it may not');
    assert.equal(read(framed('[1,2]')), 'the handover is not a JSON object');
    assert.equal(read(framed('{"ANTHROPIC_SESSION_ID":')), 'the handover is not JSON');
  });
});
