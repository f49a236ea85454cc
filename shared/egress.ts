/**
 * What an environment's sessions may reach. Free of node: the window checks an entry
 * with the same words the core does.
 */
export const EGRESS_POLICIES = ['none', 'api', 'allowlist', 'open'] as const;
export type EgressPolicy = (typeof EGRESS_POLICIES)[number];

/** Where a new environment's sessions may go besides the API: the common package hosts (npm, PyPI, GitHub). */
export const DEFAULT_ALLOWLIST: readonly string[] = [
  'registry.npmjs.org',
  'pypi.org',
  'files.pythonhosted.org',
  'github.com',
  'api.github.com',
  'codeload.github.com',
  '*.githubusercontent.com',
];

const NAME = /^(\*\.)?(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An address entry, as the proxy compiles it: an IPv4-mapped IPv6 one is its IPv4 range (the proxy judges such addresses as IPv4). */
export interface AddressEntry {
  family: 4 | 6;
  address: string;
  bits: number;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail allowed), or null when it is none. */
function ipv6Groups(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const words = s.split(':');
    for (const [i, word] of words.entries()) {
      if (i === words.length - 1 && IPV4.test(word)) {
        const [a, b, c, d] = word.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/.test(word)) out.push(parseInt(word, 16));
      else return null;
    }
    return out;
  };
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}

/**
 * An address or CIDR entry: what the proxy compiles, or what is wrong with it in words; undefined
 * when the entry is not written as an address (a name). Checked here, at input, so that an entry
 * accepted is one every session's proxy can use.
 */
export function addressEntry(entry: string): AddressEntry | { problem: string } | undefined {
  const [address, bitsText, ...extra] = entry.toLowerCase().split('/') as [string, string | undefined, ...string[]];
  const looksV4 = /^[\d.]+$/.test(address);
  if (!looksV4 && !(address.includes(':') && /^[0-9a-f:.]+$/.test(address))) return undefined;
  if (extra.length || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText))) return { problem: `${entry}: a range is ADDRESS/PREFIX, the prefix a number` };
  const bits = bitsText === undefined ? undefined : Number(bitsText);
  if (looksV4) {
    if (!IPV4.test(address)) return { problem: `${entry}: not an IPv4 address` };
    if (bits !== undefined && bits > 32) return { problem: `${entry}: an IPv4 prefix is /0 to /32` };
    return { family: 4, address, bits: bits ?? 32 };
  }
  const groups = ipv6Groups(address);
  if (!groups) return { problem: `${entry}: not an IPv6 address` };
  if (bits !== undefined && bits > 128) return { problem: `${entry}: an IPv6 prefix is /0 to /128` };
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const v4 = [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
    if (bits !== undefined && bits < 96) {
      return { problem: `${entry}: an IPv4 address written as IPv6 takes a prefix of /96 to /128 (or write it as IPv4, e.g. ${v4}/${Math.max(0, bits - 96) || 8})` };
    }
    return { family: 4, address: v4, bits: bits === undefined ? 32 : bits - 96 };
  }
  return { family: 6, address, bits: bits ?? 128 };
}

/**
 * The ports a name entry opens when it names none: HTTPS and HTTP. A name is often a shared front
 * (a CDN, a cloud load balancer): every other port of it is another service, opened only by name.
 */
export const DEFAULT_NAME_PORTS: readonly number[] = [443, 80];

/** A name entry (`pypi.org`, `*.example.com`), with the port it names (`pypi.org:8443`); undefined when the entry is not a name. */
export function nameEntry(entry: string): { name: string; port?: number } | { problem: string } | undefined {
  const lower = entry.toLowerCase();
  if (NAME.test(lower)) return { name: lower };
  const withPort = /^([^:]+):(\d{1,5})$/.exec(lower);
  if (!withPort || !NAME.test(withPort[1]!)) return undefined;
  const port = Number(withPort[2]);
  return port >= 1 && port <= 65_535 ? { name: withPort[1]!, port } : { problem: `${entry}: a port is 1 to 65535` };
}

/** What is wrong with an allowlist entry, in words; null when it is one. */
export function allowEntryProblem(entry: string): string | null {
  const address = addressEntry(entry);
  if (address) return 'problem' in address ? `${ALLOW_ENTRY_RULE} — ${address.problem}` : null;
  const name = nameEntry(entry);
  if (name) return 'problem' in name ? `${ALLOW_ENTRY_RULE} — ${name.problem}` : null;
  return ALLOW_ENTRY_RULE;
}

/**
 * An allowlist entry: a host name (`registry.npmjs.org`), `*.suffix` for every name under a domain
 * (not the domain itself), either with a port (`pypi.org:8443`, `*.example.com:22`; without one a
 * name is open on 443 and 80), or an address or CIDR range (`10.0.0.5`, `192.168.1.0/24`, `fd00::/8`:
 * every port). Only an address entry lets a session reach a private, loopback or link-local address.
 */
export function isAllowEntry(entry: string): boolean {
  return allowEntryProblem(entry) === null;
}
export const ALLOW_ENTRY_RULE =
  'a host name or *.domain, with a port when it is not 443 or 80, an IP address or a CIDR range (e.g. registry.npmjs.org, *.githubusercontent.com, pypi.org:8443, 10.0.0.5/32)';
