import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkerArgs, profileFromArgs, workerArgs } from '../../electron/core/cli/args.js';
import { DEFAULT_ALLOWLIST } from '../../shared/egress.js';

const args = (extra: Record<string, unknown>) => ({ ...workerArgs.parse({ ...extra }), 'base-url': 'https://api.anthropic.com', 'environment-id': 'env_1' });

describe('--log-limit-mb: the session log size cap', () => {
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


describe('--egress, --allow and --network', () => {
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
    for (const entry of ['http://evil.com', 'a b', '*', '*.', '../etc', 'evil.com:0', 'evil.com:99999', '10.0.0.1:22', '300.1.1.1', 'x'.repeat(300), '**.com']) {
      assert.match(String(profile(['--allow', entry])), /--allow: a host name or \*\.domain, with a port/, entry);
    }
    const ported = profile(['--allow', 'pypi.org:8443', '--allow', '*.example.com:22']);
    assert.ok(typeof ported !== 'string' && ported.allowHosts.join() === 'pypi.org:8443,*.example.com:22', String(ported));
  });
});

describe('--env, --secret-env and --mount', () => {
  const profile = (argv: string[]) => {
    const parsed = parseWorkerArgs(['--base-url', 'https://api.anthropic.com', '--environment-id', 'env_1', '--data-dir', mkdtempSync(join(tmpdir(), 'outpost-args-')), ...argv]);
    return 'served' in parsed ? parsed.served! : (parsed as { stderr?: string }).stderr ?? '';
  };

  it('reach the profile: a value may hold = and :, a secret has no value in the settings, a mount its target', () => {
    const p = profile(['--env', 'NODE_ENV=production', '--env', 'URL=postgres://a:b@c/d?x=1', '--secret-env', 'DB_PASSWORD', '--mount', '/srv/data', '--mount', '/srv/models:/models']);
    assert.ok(typeof p !== 'string', p as string);
    assert.deepEqual(p.envVars, [
      { name: 'NODE_ENV', text: 'production', inKeychain: false },
      { name: 'URL', text: 'postgres://a:b@c/d?x=1', inKeychain: false },
      { name: 'DB_PASSWORD', text: '', inKeychain: true },
    ]);
    assert.deepEqual(p.mounts, [{ source: '/srv/data' }, { source: '/srv/models', target: '/models' }]);
  });

  it('refuses Outpost’s own names, a name that is no name, a twice-given name, a relative mount', () => {
    assert.match(String(profile(['--env', 'ANTHROPIC_BASE_URL=http://evil'])), /--env: ANTHROPIC_\* and OUTPOST_\* are Outpost’s own/);
    assert.match(String(profile(['--env', '1X=y'])), /--env: a variable name/);
    assert.match(String(profile(['--env', 'novalue'])), /--env takes NAME=VALUE/);
    assert.match(String(profile(['--env', 'A=1', '--secret-env', 'A'])), /--env: each variable once/);
    assert.match(String(profile(['--mount', 'data'])), /--mount: an absolute host path/);
    assert.match(String(profile(['--mount', '/srv:/x/../etc'])), /--mount: an absolute path in the container, without \.\./);
  });
});

describe('--warm: containers kept ready', () => {
  it('defaults to one warm container, 0 turns the pool off, and it reaches the profile', () => {
    const byDefault = profileFromArgs(args({}));
    assert.equal('profile' in byDefault && byDefault.profile.warm, 1);
    const off = profileFromArgs(args({ warm: '0' }));
    assert.equal('profile' in off && off.profile.warm, 0);
  });

  it('refuses a negative or fractional count, and one past the most sessions a profile may run', () => {
    assert.equal(workerArgs.safeParse({ warm: '-1' }).success, false);
    assert.equal(workerArgs.safeParse({ warm: '1.5' }).success, false);
    const refused = profileFromArgs(args({ warm: '65' }));
    assert.match('problem' in refused ? refused.problem : '', /^--warm: /);
  });
});
