import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { environmentProfileSchema } from '../../shared/contract.js';
import { isAllowEntry } from '../../shared/egress.js';
import { EgressPolicyRules } from '../../electron/core/egress/policy.js';
import { profileFromArgs, workerArgs } from '../../electron/core/cli/args.js';

/** An allowlist entry accepted at input must work in every session; one that cannot is refused at input, in words. */
describe('allowlist entries: what the input check accepts, the proxy can use', () => {
  const rules = (entry: string) => new EgressPolicyRules({ policy: 'allowlist', allowHosts: [entry] });

  it('an IPv4 range written as IPv6 (::ffff:10.0.0.1/120) is accepted and opens the IPv4 range it names', () => {
    assert.ok(isAllowEntry('::ffff:10.0.0.1/120'));
    const compiled = rules('::ffff:10.0.0.1/120');
    assert.ok(compiled.addressAllowed('10.0.0.200'));
    assert.ok(compiled.addressAllowed('::ffff:10.0.0.7'));
    assert.ok(!compiled.addressAllowed('10.0.1.1'));
    assert.equal(compiled.decide('10.0.0.9', 443).allowed, true);
    assert.ok(rules('::ffff:192.168.1.5').addressAllowed('192.168.1.5'));
    assert.ok(!rules('::ffff:192.168.1.5').addressAllowed('192.168.1.6'));
  });

  it('every accepted address entry compiles and allows the address it names', () => {
    for (const entry of ['10.0.0.5', '10.0.0.0/8', '0.0.0.0/0', 'fd00::/8', '::1', '::/0', 'fe80::1/128', '2001:db8::1:2/64', '::ffff:10.0.0.1/96', '::ffff:10.0.0.1/128', '64:ff9b::10.0.0.1/120', '1:2:3:4:5:6:7:8']) {
      assert.ok(isAllowEntry(entry), entry);
      const address = entry.split('/')[0]!;
      assert.ok(rules(entry).addressAllowed(address), entry);
    }
  });

  it('an entry that cannot work is refused at input, saying why (the settings and the CLI)', () => {
    const refused: Array<[string, RegExp]> = [
      ['::ffff:10.0.0.1/80', /IPv4 address written as IPv6 takes a prefix of \/96 to \/128/],
      ['::ffff:10.0.0.1/95', /\/96 to \/128.*10\.0\.0\.1\/24|\/96 to \/128/],
      [':::', /not an IPv6 address/],
      ['1:2:3:4:5:6:7:8:9', /not an IPv6 address/],
      ['1::2::3', /not an IPv6 address/],
      ['::12345', /not an IPv6 address/],
      ['fd00::/129', /prefix/],
      ['10.0.0.1/33', /./],
    ];
    for (const [entry, words] of refused) {
      assert.ok(!isAllowEntry(entry), entry);
      const parsed = environmentProfileSchema.safeParse({ environmentId: 'env_x', baseUrl: 'https://api.example.com', allowHosts: [entry] });
      assert.ok(!parsed.success, entry);
      assert.match(parsed.error.issues.map((i) => i.message).join('; '), words, entry);
    }
    const args = workerArgs.parse({ 'base-url': 'https://api.example.com', 'environment-id': 'env_x', allow: ['::ffff:10.0.0.1/80'] });
    const cli = profileFromArgs({ ...args, 'base-url': 'https://api.example.com', 'environment-id': 'env_x' });
    assert.ok('problem' in cli && /--allow: .*IPv4 address written as IPv6/.test(cli.problem), JSON.stringify(cli));
  });
});
