import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { normalHost, plainAddress } from './policy.js';

/** How much of a tunnel's first bytes the proxy reads before it lets them through: a ClientHello is a few hundred bytes to a few KiB. */
export const FIRST_BYTES_LIMIT = 16 * 1024;

/** More bytes are needed to judge; the bytes to send on (a plain HTTP head rewritten); or refused, with what to answer the client in its own protocol. */
export type FirstBytesVerdict = { more: true } | Judged;
type Judged = { pass: Buffer } | { refused: string; reply?: Buffer };

/** TLS alert unrecognized_name (RFC 6066 §3), fatal: the client says the server refused its name. */
const UNRECOGNIZED_NAME = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70]);

/**
 * Judge a tunnel's first bytes against its CONNECT target. A CONNECT names one host, but what the far
 * end serves is chosen by the bytes inside: a CDN or a cloud load balancer in front of an allowed name
 * routes by the TLS server name (SNI) or the HTTP Host header, so `CONNECT allowed.com:443` with
 * SNI `other.com` reaches another site on the same front (domain fronting). So:
 * - TLS: the ClientHello's server name must be the target. Without one, only an address target
 *   passes (clients send no SNI for an address, RFC 6066 §3; a name target without SNI would let the
 *   front pick the site).
 * - plain HTTP: the first request's Host (and an absolute-form target) must be the target, and it is
 *   sent with `Connection: close`, so that the server answers it alone and no later request on the
 *   tunnel, unread by the proxy, can name another host. HTTP/2 without TLS carries its host in
 *   compressed frames the proxy does not read: refused.
 * - anything else (SSH, a database's protocol) passes: it has no host to name, and a name is open on
 *   another port than 443 and 80 only when the allowlist names that port.
 * What TLS carries once encrypted (the Host inside it) cannot be read without breaking TLS: a front
 * that serves a Host other than the SNI is the one way around this that is left.
 */
export function judgeFirstBytes(bytes: Buffer, target: string): FirstBytesVerdict {
  if (bytes.length === 0) return { more: true };
  const verdict = bytes[0] === 0x16 ? judgeTls(bytes, normalHost(target)) : judgeHttp(bytes, normalHost(target));
  if ('more' in verdict && bytes.length >= FIRST_BYTES_LIMIT) return { refused: `its first ${FIRST_BYTES_LIMIT / 1024} KiB are not a whole TLS ClientHello or HTTP request head` };
  return verdict;
}

function judgeTls(bytes: Buffer, target: string): FirstBytesVerdict {
  const hello = serverName(bytes);
  if ('more' in hello) return hello;
  if ('malformed' in hello) return { refused: `TLS that Outpost cannot read: ${hello.malformed}`, reply: UNRECOGNIZED_NAME };
  if (hello.name === undefined) {
    return isIP(plainAddress(target)) ? { pass: bytes } : { refused: `TLS without a server name (SNI) to the name ${target}`, reply: UNRECOGNIZED_NAME };
  }
  const name = normalHost(hello.name);
  if (name !== target) return { refused: `TLS names ${name}, not the CONNECT target ${target}`, reply: UNRECOGNIZED_NAME };
  return { pass: bytes };
}

/** The server name of a ClientHello that may span TLS records (RFC 8446 §4.1.2, RFC 6066 §3). */
function serverName(bytes: Buffer): { more: true } | { malformed: string } | { name?: string } {
  const fragments: Buffer[] = [];
  let at = 0;
  for (;;) {
    if (at + 5 > bytes.length) return { more: true };
    if (bytes[at] !== 0x16 || bytes[at + 1] !== 0x03) return { malformed: 'a record that is not a handshake' };
    const length = bytes.readUInt16BE(at + 3);
    if (at + 5 + length > bytes.length) return { more: true };
    fragments.push(bytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
    const handshake = Buffer.concat(fragments);
    if (handshake.length < 4) continue;
    if (handshake[0] !== 0x01) return { malformed: 'a handshake that does not start with a ClientHello' };
    const end = 4 + handshake.readUIntBE(1, 3);
    if (handshake.length < end) continue;
    try {
      return { ...helloServerName(handshake.subarray(4, end)) };
    } catch {
      return { malformed: 'a ClientHello cut short' };
    }
  }
}

/** Reads a ClientHello's body; throws when a length points past its end. */
function helloServerName(hello: Buffer): { name?: string } {
  let at = 0;
  const skip = (n: number) => {
    if (at + n > hello.length) throw new RangeError('past the end');
    at += n;
  };
  const u8 = () => (skip(1), hello[at - 1]!);
  const u16 = () => (skip(2), hello.readUInt16BE(at - 2));
  skip(2 + 32); // legacy_version, random
  skip(u8()); // legacy_session_id
  skip(u16()); // cipher_suites
  skip(u8()); // legacy_compression_methods
  if (at === hello.length) return {};
  const end = u16() + at;
  if (end > hello.length) throw new RangeError('past the end');
  while (at < end) {
    const type = u16();
    const length = u16();
    const start = at;
    skip(length);
    if (type !== 0x0000) continue;
    at = start;
    const listEnd = u16() + at;
    while (at < listEnd) {
      const nameType = u8();
      const nameLength = u16();
      skip(nameLength);
      if (nameType === 0) return { name: hello.subarray(at - nameLength, at).toString('latin1') };
    }
    return {};
  }
  return {};
}

/** A request line in the making: a method token, then the target, then the version. */
const PARTIAL_REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+( [^ \r\n]*( [^ \r\n]*)?)?$/;
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ ([^ ]+) HTTP\/(\d)(?:\.\d)?$/i;

function judgeHttp(bytes: Buffer, target: string): FirstBytesVerdict {
  const text = bytes.toString('latin1');
  // Servers skip empty lines before a request (RFC 9112 §2.2): so does this check.
  const start = /^(\r?\n)*/.exec(text)![0].length;
  const lineEnd = text.indexOf('\n', start);
  if (lineEnd < 0) return PARTIAL_REQUEST_LINE.test(text.slice(start)) ? { more: true } : { pass: bytes };
  const line = REQUEST_LINE.exec(text.slice(start, lineEnd).replace(/\r$/, ''));
  if (!line) return { pass: bytes };
  if (line[2] !== '1' && line[2] !== '0') return { refused: `HTTP/${line[2]} without TLS through a tunnel (its host cannot be checked)` };
  const headEnd = /\r?\n\r?\n/.exec(text.slice(lineEnd - 1));
  if (!headEnd) return { more: true };
  const bodyStart = lineEnd - 1 + headEnd.index + headEnd[0].length;
  const headers = text.slice(lineEnd + 1, bodyStart).split(/\r?\n/).filter(Boolean);
  const refuse = (why: string): FirstBytesVerdict => {
    const body = `Outpost refused this request through the tunnel to ${target}: ${why}\n`;
    return { refused: why, reply: Buffer.from(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`) };
  };
  // A folded header line could hide a second Host from this check and not from a lenient server.
  if (headers.some((h) => /^[ \t]/.test(h))) return refuse('a folded header line');
  const hosts = headers.filter((h) => /^host\s*:/i.test(h)).map((h) => h.slice(h.indexOf(':') + 1).trim());
  if (hosts.length > 1) return refuse('more than one Host header');
  if (hosts.length === 1 && hostOfHeader(hosts[0]!) !== target) return refuse(`its Host header names ${hostOfHeader(hosts[0]!)}, not the CONNECT target ${target}`);
  const requestTarget = line[1]!;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(requestTarget)) {
    let named: string;
    try {
      named = normalHost(new URL(requestTarget).hostname);
    } catch {
      return refuse('a request target that is not a URL');
    }
    if (named !== target) return refuse(`it asks for ${named}, not the CONNECT target ${target}`);
  }
  // Connection: close, whatever the client asked (its other tokens kept: an Upgrade still upgrades).
  const kept = headers.filter((h) => !/^(connection|keep-alive)\s*:/i.test(h));
  const tokens = headers
    .filter((h) => /^connection\s*:/i.test(h))
    .flatMap((h) => h.slice(h.indexOf(':') + 1).split(','))
    .map((t) => t.trim())
    .filter((t) => t && !/^(keep-alive|close)$/i.test(t));
  const head = [text.slice(start, lineEnd).replace(/\r$/, ''), ...kept, `Connection: ${[...tokens, 'close'].join(', ')}`, '', ''].join('\r\n');
  return { pass: Buffer.concat([Buffer.from(head, 'latin1'), bytes.subarray(bodyStart)]) };
}

/** The host of a Host header's value: `example.com:8080` → `example.com`, `[::1]:80` → `::1`. */
function hostOfHeader(value: string): string {
  const bracketed = /^\[([^\]]*)\](:\d*)?$/.exec(value);
  if (bracketed) return normalHost(bracketed[1]!);
  return normalHost(value.replace(/:\d*$/, ''));
}

/**
 * Read a tunnel's first bytes from the client until `judgeFirstBytes` can judge them, for at most
 * `timeoutMs` (a client that sends nothing holds its tunnel no longer). Leaves the client paused,
 * with nothing read past what the verdict covers. `closed`: the client went away first.
 */
export function awaitFirstBytes(client: Duplex, head: Buffer, target: string, timeoutMs: number): Promise<Judged | { closed: true }> {
  let bytes = head;
  const first = judgeFirstBytes(bytes, target);
  if (!('more' in first)) return Promise.resolve(first);
  return new Promise((resolve) => {
    const done = (verdict: Judged | { closed: true }) => {
      clearTimeout(timer);
      client.off('data', onData).off('end', onEnd).off('close', onClose);
      client.pause();
      resolve(verdict);
    };
    const onData = (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      const verdict = judgeFirstBytes(bytes, target);
      if (!('more' in verdict)) done(verdict);
    };
    // A client that sends nothing and ends: nothing to judge. One that ends halfway through a ClientHello or a request head: refused.
    const onEnd = () => done(bytes.length === 0 ? { pass: bytes } : { refused: 'it ended before its first bytes could be judged' });
    const onClose = () => done({ closed: true });
    const timer = setTimeout(() => done({ refused: bytes.length ? `its first bytes did not make a whole TLS ClientHello or HTTP request head within ${timeoutMs / 1000} s` : `it sent nothing within ${timeoutMs / 1000} s` }), timeoutMs);
    client.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}
