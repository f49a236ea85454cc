import { BlockList, isIP } from 'node:net';
import { addressEntry, DEFAULT_NAME_PORTS, nameEntry, type EgressPolicy } from '../../../shared/egress.js';

/**
 * Addresses a session never reaches by name alone: this machine, the local networks, link-local (cloud
 * metadata at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges (RFC 6890). Only an
 * allowlist entry naming the address or its range opens one; the API's own origin is the exception.
 */
const INTERNAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2002::', 16]] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv6');
}

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1) is the IPv4 address: judged as such. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

export function isInternalAddress(address: string): boolean {
  const plain = plainAddress(address);
  const family = isIP(plain);
  // Not an address at all: treat it as the worst case.
  if (family === 0) return true;
  return INTERNAL.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

export interface EgressRules {
  policy: Exclude<EgressPolicy, 'open'>;
  /**
   * The control plane the session runner talks to: its host and port are always reachable (but under
   * `none`). `internal`: it may be an internal address (the environment's own URL, e.g. a control plane
   * on this machine); an item's secret that names another API gets no such pass.
   */
  api?: { host: string; port: number; internal: boolean };
  allowHosts: readonly string[];
}

/** What the proxy decided about a host, before looking it up: refused (and why), or allowed by a rule. */
export type Verdict = { allowed: false; rule: string; suggest?: string } | { allowed: true; rule: string; anyAddress: boolean };

/**
 * One environment's rules, compiled: names (exact or `*.domain`, each with its ports) and address
 * ranges. A name allows a host on its ports (443 and 80 unless the entry names one); the addresses it
 * resolves to must then be public, or inside a listed range (DNS rebinding: a listed name that points
 * at 10.0.0.1 is still refused). An address or range entry opens every port of what it names.
 */
export class EgressPolicyRules {
  readonly #rules: EgressRules;
  readonly #names = new Map<string, Set<number>>();
  readonly #suffixes = new Map<string, Set<number>>();
  readonly #ranges: Array<{ entry: string; list: BlockList }> = [];

  constructor(rules: EgressRules) {
    this.#rules = rules;
    for (const raw of rules.allowHosts) {
      const entry = raw.toLowerCase();
      // Compiled as the input check read it (shared/egress.ts): an IPv4-mapped range is its IPv4 range.
      const address = addressEntry(entry);
      if (address) {
        // The input check refused a broken one; one that slipped past (an old file) opens nothing rather than fail every session.
        if ('problem' in address) continue;
        const list = new BlockList();
        list.addSubnet(address.address, address.bits, address.family === 4 ? 'ipv4' : 'ipv6');
        this.#ranges.push({ entry, list });
        continue;
      }
      const name = nameEntry(entry);
      if (!name || 'problem' in name) continue;
      const [map, key] = name.name.startsWith('*.') ? [this.#suffixes, name.name.slice(1)] : [this.#names, name.name];
      const ports = map.get(key) ?? new Set<number>();
      for (const port of name.port === undefined ? DEFAULT_NAME_PORTS : [name.port]) ports.add(port);
      map.set(key, ports);
    }
  }

  /** Decide by name and port (the first step; `addressAllowed` judges what the name resolved to). */
  decide(rawHost: string, port: number): Verdict {
    const host = normalHost(rawHost);
    const { policy, api } = this.#rules;
    if (policy === 'none') return { allowed: false, rule: 'egress none: no network' };
    if (api && host === normalHost(api.host) && port === api.port) return { allowed: true, rule: 'api', anyAddress: api.internal };
    if (policy === 'api') return { allowed: false, rule: 'egress api: only the API host', suggest: host };
    if (isIP(plainAddress(host))) {
      const range = this.#rangeFor(host);
      if (range) return { allowed: true, rule: `allowlist: ${range}`, anyAddress: false };
      return isInternalAddress(host) ? { allowed: false, rule: `internal address: add ${host} to the allowlist`, suggest: host } : { allowed: false, rule: `not on the allowlist: add ${host}`, suggest: host };
    }
    // What a user adds to open this very host and port: the name alone opens 443 and 80.
    const entry = DEFAULT_NAME_PORTS.includes(port) ? host : `${host}:${port}`;
    const listed = [...(this.#names.has(host) ? [[host, this.#names.get(host)!] as const] : []), ...[...this.#suffixes].filter(([s]) => host.endsWith(s) && host.length > s.length).map(([s, ports]) => [`*${s}`, ports] as const)];
    if (listed.length === 0) return { allowed: false, rule: `not on the allowlist: add ${entry}`, suggest: entry };
    const opening = listed.find(([, ports]) => ports.has(port));
    if (opening) return { allowed: true, rule: `allowlist: ${opening[0]}${DEFAULT_NAME_PORTS.includes(port) ? '' : `:${port}`}`, anyAddress: false };
    const ports = [...new Set(listed.flatMap(([, p]) => [...p]))].sort((a, b) => a - b);
    return { allowed: false, rule: `${listed[0]![0]} is allowed on ${ports.length > 1 ? `ports ${ports.slice(0, -1).join(', ')} and ${ports.at(-1)!}` : `port ${ports[0]!}`} only: add ${entry}`, suggest: entry };
  }

  /** An address a name allowed by `decide` resolved to: internal ones only when a listed range holds them. */
  addressAllowed(address: string): boolean {
    return !isInternalAddress(address) || this.#rangeFor(address) !== undefined;
  }

  #rangeFor(address: string): string | undefined {
    const plain = plainAddress(address);
    const type = isIP(plain) === 4 ? 'ipv4' : 'ipv6';
    return this.#ranges.find((r) => r.list.check(plain, type))?.entry;
  }
}

/** Lower case, no trailing dot, no IPv6 brackets: `Example.COM.` and `example.com` are one host. */
export function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
}
