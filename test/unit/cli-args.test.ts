import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkerArgs, profileFromArgs, workerArgs } from '../../electron/core/cli-args.js';
import { DEFAULT_ALLOWLIST } from '../../shared/egress.js';

const args = (extra: Record<string, unknown>) => ({ ...workerArgs.parse({ ...extra }), 'base-url': 'https://api.anthropic.com', 'environment-id': 'env_1' });

describe('--log-limit-mb (issue 14 §4)', () => {
  it('defaults to 100 MiB and reaches the profile', () => {
    const byDefault = profileFromArgs(args({}));
    assert.equal('profile' in byDefault && byDefault.profile.logLimitMb, 100);
    const given = profileFromArgs(args({ 'log-limit-mb': '5' }));
    assert.equal('profile' in given && given.profile.logLimitMb, 5);
  });

  it('refuses a limit past 1 TiB, naming the flag', () => {
    const refused = profileFromArgs(args({ 'log-limit-mb': '2000000' }));
    assert.match('problem' in refused ? refused.problem : '', /^--log-limit-mb: at most/);
  });
});


describe('--egress, --allow and --network (issue 16 §1)', () => {
  const profile = (argv: string[]) => {
    const parsed = parseWorkerArgs(['--base-url', 'https://api.anthropic.com', '--environment-id', 'env_1', '--data-dir', mkdtempSync(join(tmpdir(), 'outpost-args-')), ...argv]);
    return 'served' in parsed ? parsed.served! : (parsed as { stderr?: string }).stderr ?? '';
  };

  it('a new environment gets allowlist with the package hosts; --allow replaces the list, repeated, trimmed and lower-cased', () => {
    const byDefault = profile([]);
    assert.ok(typeof byDefault !== 'string');
    assert.equal(byDefault.egress, 'allowlist');
    assert.deepEqual(byDefault.allowHosts, [...DEFAULT_ALLOWLIST]);
    const listed = profile(['--allow', 'Pkg.Example.COM', '--allow', '*.cdn.example.com', '--allow', '10.0.0.0/8']);
    assert.ok(typeof listed !== 'string');
    assert.deepEqual(listed.allowHosts, ['pkg.example.com', '*.cdn.example.com', '10.0.0.0/8']);
  });

  it('--network alone keeps its meaning (open, that Docker network); with another policy it is refused in words', () => {
    const open = profile(['--network', 'host']);
    assert.ok(typeof open !== 'string');
    assert.deepEqual([open.egress, open.networkMode], ['open', 'host']);
    assert.match(String(profile(['--network', 'host', '--egress', 'api'])), /--network host: only --egress open uses a Docker network/);
    const none = profile(['--egress', 'none']);
    assert.ok(typeof none !== 'string' && none.egress === 'none');
  });

  it('refuses an unknown policy and hostile entries, naming the flag', () => {
    assert.match(String(profile(['--egress', 'everything'])), /--egress must be none, api, allowlist or open/);
    for (const entry of ['http://evil.com', 'a b', '*', '*.', '../etc', 'evil.com:443', '300.1.1.1', 'x'.repeat(300), '**.com']) {
      assert.match(String(profile(['--allow', entry])), /--allow: a host name, \*\.domain/, entry);
    }
  });
});
