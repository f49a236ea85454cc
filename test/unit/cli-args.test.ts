import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileFromArgs, workerArgs } from '../../electron/core/cli-args.js';

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


describe('--warm (issue 15)', () => {
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
