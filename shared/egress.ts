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
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(\/(3[0-2]|[12]?\d))?$/;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*(\/(12[0-8]|1[01]\d|[1-9]?\d))?$/;

/**
 * An allowlist entry: a host name (`registry.npmjs.org`), `*.suffix` for every name under a domain
 * (not the domain itself), or an address or CIDR range (`10.0.0.5`, `192.168.1.0/24`, `fd00::/8`).
 * Only an address entry lets a session reach a private, loopback or link-local address.
 */
export function isAllowEntry(entry: string): boolean {
  // A name whose last label is all digits is an address (a bad one, when IPV4 refuses it): no TLD is numeric.
  if (/^[\d.]+(\/\d+)?$/.test(entry)) return IPV4.test(entry);
  return NAME.test(entry) || IPV6.test(entry);
}
export const ALLOW_ENTRY_RULE = 'a host name, *.domain, an IP address or a CIDR range (e.g. registry.npmjs.org, *.githubusercontent.com, 10.0.0.5/32)';
