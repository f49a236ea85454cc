import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { waitFor } from '../helpers/worker.js';
import { parseWorkerArgs } from '../../electron/core/cli/args.js';

const cli = fileURLToPath(new URL('../../dist/electron/core/cli.js', import.meta.url));
const KEY = 'sk-ant-env-service-key-0123456789';
const UNIT = 'etc/systemd/system/outpost-worker.service';

/** `outpost service …` run once, writing under --root: no systemctl is ever called here. */
function service(args: string[], env: Record<string, string> = { OUTPOST_ENVIRONMENT_KEY: KEY }) {
  return promisify(execFile)(process.execPath, [cli, 'service', ...args], { env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: '', ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

/** ExecStart= split into words as systemd does for what we write: "…" words, C escapes, %% and $$ kept literal, %d the credentials folder. */
function execStart(unit: string, credentials: string): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit)![1]!;
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) =>
    m[1]!.replace(/\\(.)/g, '$1').replace(/%(.)/g, (_, c: string) => (c === '%' ? '%' : c === 'd' ? credentials : `%${c}`)).replace(/\$\$/g, '$'),
  );
}

/** systemd-analyze's complaints about a unit (it exits 0 on a setting it ignores, so its words are the verdict), or why it cannot run. */
async function analyze(file: string, user = false): Promise<{ skipped: string } | { complaints: string }> {
  if (!existsSync('/usr/bin/systemd-analyze')) return { skipped: 'systemd-analyze is not installed (Debian: apt-get install systemd)' };
  // A user manager's runtime folder, which systemd-analyze --user looks up even to verify a file.
  const env = { ...process.env, XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] || mkdtempSync(join(tmpdir(), 'outpost-runtime-')) };
  const r = await promisify(execFile)('systemd-analyze', [...(user ? ['--user'] : []), 'verify', file], { env }).then(
    (r) => ({ code: 0, err: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }),
  );
  if (user && r.code !== 0 && /user|bus|runtime|manager/i.test(r.err) && !r.err.includes(file)) return { skipped: `no user manager to verify against: ${r.err.trim()}` };
  return { complaints: r.code === 0 ? r.err.split('\n').filter((l) => l.includes(file) || l.includes('outpost-worker')).join('\n') : r.err };
}

/** A service install for bare servers: the key in a credentials file, never in the unit or the process list. */
describe('outpost service install', { skip: !existsSync(cli) && 'not built' }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  let url: string;
  before(async () => (url = await playground.start()));
  after(() => playground.close());

  it('writes a system unit: the key by LoadCredential= from a 0600 file, SIGTERM, stop timeout drain + grace + margin, restart on failure', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-service-'));
    const { code, out } = await service(['install', '--system', '--root', root, '--base-url', 'http://127.0.0.1:8080', '--environment-id', 'env_1', '--drain-seconds', '60', '--grace-seconds', '20']);
    assert.equal(code, 0, out);
    assert.match(out, /--root: not enabled; run systemctl enable --now outpost-worker\.service on the target/);
    const unit = readFileSync(join(root, UNIT), 'utf8');
    const keyFile = join(root, 'etc/outpost/outpost-worker.key');
    assert.equal(readFileSync(keyFile, 'utf8'), `${KEY}\n`);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'etc/outpost')).mode & 0o777, 0o700);
    assert.doesNotMatch(unit, new RegExp(KEY));
    assert.match(unit, /^LoadCredential=environment-key:\/etc\/outpost\/outpost-worker\.key$/m);
    assert.match(unit, /^KillSignal=SIGTERM$/m);
    assert.match(unit, /^TimeoutStopSec=95$/m, '60 + 20 + 15');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    const argv = execStart(unit, '/run/credentials/outpost-worker.service');
    assert.deepEqual(argv.slice(-2), ['--environment-key-file', '/run/credentials/outpost-worker.service/environment-key']);
    assert.deepEqual(argv.slice(2, 4), ['worker', '--base-url=http://127.0.0.1:8080']);
    assert.ok(argv.includes('--data-dir=/var/lib/outpost'), 'a system worker keeps its data in /var/lib/outpost');
    const verdict = await analyze(join(root, UNIT));
    if ('skipped' in verdict) t.diagnostic(`systemd-analyze verify skipped: ${verdict.skipped}`);
    else assert.equal(verdict.complaints, '', 'systemd-analyze verify has nothing to say');
  });

  it('a user unit reads the user’s own 0600 key file; the launchd agent likewise, with ExitTimeOut', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-service-'));
    const home = mkdtempSync(join(tmpdir(), 'outpost-home-'));
    const env = { OUTPOST_ENVIRONMENT_KEY: KEY, HOME: home, XDG_CONFIG_HOME: '', XDG_DATA_HOME: '' };
    assert.equal((await service(['install', '--user', '--root', root, '--base-url', 'http://127.0.0.1:8080', '--environment-id', 'env_1'], env)).code, 0);
    const unitFile = join(root, home, '.config/systemd/user/outpost-worker.service');
    const unit = readFileSync(unitFile, 'utf8');
    assert.doesNotMatch(unit, new RegExp(KEY));
    assert.doesNotMatch(unit, /LoadCredential|After=docker/);
    assert.deepEqual(execStart(unit, '').slice(-2), ['--environment-key-file', join(home, '.config/outpost/outpost-worker.key')]);
    assert.match(unit, /^TimeoutStopSec=55$/m, '30 + 10 + 15 by default');
    assert.match(unit, /^WantedBy=default\.target$/m);
    const verdict = await analyze(unitFile, true);
    if ('skipped' in verdict) t.diagnostic(`systemd-analyze --user verify skipped: ${verdict.skipped}`);
    else assert.equal(verdict.complaints, '');

    assert.equal((await service(['install', '--manager', 'launchd', '--root', root, '--base-url', 'http://127.0.0.1:8080', '--environment-id', 'env_1'], env)).code, 0);
    const plist = readFileSync(join(root, home, 'Library/LaunchAgents/outpost-worker.plist'), 'utf8');
    assert.doesNotMatch(plist, new RegExp(KEY));
    assert.match(plist, /<key>ExitTimeOut<\/key><integer>55<\/integer>/);
    assert.match(plist, /<key>KeepAlive<\/key><dict><key>SuccessfulExit<\/key><false\/><\/dict>/);
    assert.match(plist, new RegExp(`<string>--environment-key-file</string>\\s*<string>${join(home, 'Library/Application Support/Outpost/outpost-worker.key')}</string>`));
    assert.equal(statSync(join(root, home, 'Library/Application Support/Outpost/outpost-worker.key')).mode & 0o777, 0o600);
  });

  it('refuses what would make a broken or unsafe unit, and writes nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-service-'));
    const env = { URL: 'http://127.0.0.1:8080', ID: 'env_1' };
    const base = ['install', '--system', '--root', root, '--base-url', env.URL, '--environment-id', env.ID];
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [[...base, '--name', '../../etc/passwd'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /--name .*letters, digits/],
      [[...base, '--max-sessions', '0'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /--max-sessions/],
      [['install', '--system', '--root', root, '--environment-id', 'env_1'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /--base-url and --environment-id/],
      [[...base, '--image', 'img\nExecStartPre=/bin/sh -c evil'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /control character/],
      [base, {}, /set OUTPOST_ENVIRONMENT_KEY, or --environment-key-file/],
      [base, { OUTPOST_ENVIRONMENT_KEY: 'short' }, /not one key/],
      [[...base, '--environment-key-file', '/dev/zero'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /came twice/],
      [[...base, '--environment-key-file', '/dev/zero'], {}, /not a regular file/],
      [['install', '--system', '--user'], {}, /not both/],
      // The dashboard's address carries its token: a service's output goes to the journal, readable by the log's readers.
      [[...base, '--dashboard'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /--dashboard: a service’s output goes to its log, and the dashboard’s address carries its token/],
      [[...base, '--secret-env', 'DB_PASSWORD'], { OUTPOST_ENVIRONMENT_KEY: KEY }, /--secret-env DB_PASSWORD: set DB_PASSWORD to its value/],
      [['restart'], {}, /unknown service command 'restart'/],
    ];
    for (const [args, env, expected] of cases) {
      const { code, out } = await service(args, env);
      assert.equal(code, 64, `${args.join(' ')}: ${out}`);
      assert.match(out, expected);
      assert.doesNotMatch(out, new RegExp(KEY));
    }
    assert.equal(existsSync(join(root, UNIT)), false);
    assert.equal(existsSync(join(root, 'etc/outpost')), false);
  });

  it('every worker flag goes through install → the unit’s ExecStart → the worker’s parser unchanged, values that look like flags included', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-service-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-service-data-'));
    const base = ['--base-url', 'http://127.0.0.1:8080', '--environment-id', 'env_1', '--data-dir', dataDir];
    const SECRET = 'a "secret" with $HOME, `ticks` and \\ back';
    const flagSets = [
      [
        ...base, '--provider', 'anthropic', '--interpreter', 'python3 -u', '--timeout-seconds', '30', '--max-sessions', '3', '--warm', '0',
        '--image=--allow-root', '--egress', 'allowlist', '--allow', 'pypi.org', '--allow', '::ffff:10.0.0.1/120', '--env', 'A=1', '--env=B=--x y',
        '--secret-env', 'DB_PASSWORD', '--mount', `${root}:/data`, '--mount', dataDir, '--cpus', '1.5', '--memory', '512', '--pids', '100',
        '--log-limit-mb', '5', '--grace-seconds', '3', '--drain-seconds', '4', '--log-format', 'json', '--dashboard-port', '0', '--allow-root', '--pause-on-battery',
      ],
      [...base, '--provider', 'ainative', '--egress', 'open', '--network', 'host', '--image', 'python:3.12-slim', '--interpreter=-c'],
    ];
    for (const [i, flags] of flagSets.entries()) {
      const name = `outpost-roundtrip-${i}`;
      const { code, out } = await service(['install', '--system', '--root', root, '--name', name, ...flags], { OUTPOST_ENVIRONMENT_KEY: KEY, DB_PASSWORD: SECRET });
      assert.equal(code, 0, out);
      const unit = readFileSync(join(root, `etc/systemd/system/${name}.service`), 'utf8');
      const words = execStart(unit, '/run/credentials');
      const fromUnit = parseWorkerArgs(words.slice(words.indexOf('worker') + 1));
      const given = parseWorkerArgs([...flags, '--environment-key-file', '/run/credentials/environment-key']);
      assert.ok('args' in fromUnit && 'args' in given, JSON.stringify({ fromUnit, given }));
      assert.deepEqual(fromUnit.args, given.args, `set ${i}`);
      assert.deepEqual(fromUnit.served, given.served, `set ${i}`);
      if (i === 0) {
        assert.equal(fromUnit.args.image, '--allow-root', 'a value that looks like a flag stays a value');
        assert.equal(fromUnit.args['allow-root'], true);
        assert.equal(fromUnit.args['pause-on-battery'], true);
        // The secret variable's value: in a 0600 file systemd reads, never in the unit.
        assert.ok(!unit.includes('ticks'), 'the value is not in the unit');
        const envFile = /^EnvironmentFile=(.*)$/m.exec(unit)![1]!;
        const onDisk = join(root, envFile);
        assert.equal(statSync(onDisk).mode & 0o777, 0o600);
        assert.equal(readFileSync(onDisk, 'utf8'), 'DB_PASSWORD="a \\"secret\\" with \\$HOME, \\`ticks\\` and \\\\ back"\n');
      } else assert.doesNotMatch(unit, /EnvironmentFile=/);
    }
  });

  it('the unit\'s command serves the environment, with the key in neither its argv nor its environment; status and uninstall', async () => {
    const { environment, environmentKey } = playground.createEnvironment('service');
    const { work, sessionId } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo served by the unit' } }] });
    const root = mkdtempSync(join(tmpdir(), 'outpost-service-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-service-data-'));
    // A URL may hold % and $: quoted, they reach the worker as they are.
    const flags = ['--base-url', `${url}/`, '--environment-id', environment.id, '--network', 'host', '--data-dir', dataDir, '--grace-seconds', '2', '--drain-seconds', '3'];
    assert.equal((await service(['install', '--system', '--root', root, ...flags], { OUTPOST_ENVIRONMENT_KEY: environmentKey })).code, 0);
    const unit = readFileSync(join(root, UNIT), 'utf8');
    // What systemd would do: copy the credential into a folder of its own and run ExecStart= without a shell.
    const credentials = mkdtempSync(join(tmpdir(), 'outpost-credentials-'));
    writeFileSync(join(credentials, 'environment-key'), readFileSync(join(root, 'etc/outpost/outpost-worker.key')), { mode: 0o400 });
    const [command, ...args] = execStart(unit, credentials);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_'))) as Record<string, string>;
    const worker = spawn(command!, args, { env: { ...env, CREDENTIALS_DIRECTORY: credentials }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the session to be served', () => playground.record(work.id).item.state === 'stopped', 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${out}`);
      });
      assert.match(JSON.stringify(playground.sessions.results(sessionId)), /served by the unit/);
      const seen = readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8') + readFileSync(`/proc/${worker.pid}/environ`, 'utf8');
      assert.doesNotMatch(seen, new RegExp(environmentKey), 'the key is not in the process list nor its environment');
      assert.ok(seen.includes(`${credentials}/environment-key`));
    } finally {
      worker.kill('SIGTERM');
    }
    assert.equal(await new Promise((r) => worker.once('exit', r)), 0, 'SIGTERM (KillSignal) drains and exits 0');
    assert.doesNotMatch(out, new RegExp(environmentKey));

    const status = await service(['status', '--system', '--root', root], {});
    assert.match(status.out, new RegExp(`outpost-worker: installed \\(${root}/${UNIT}\\)`));
    assert.equal((await service(['uninstall', '--system', '--root', root], {})).code, 0);
    assert.equal(existsSync(join(root, UNIT)), false);
    assert.equal(existsSync(join(root, 'etc/outpost/outpost-worker.key')), false);
    const gone = await service(['status', '--system', '--root', root], {});
    assert.equal(gone.code, 3);
    assert.match(gone.out, /outpost-worker: not installed/);
  });
});
