import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT_USAGE, profileFromArgs, workerArgs, workerFlagOptions, workerFlagsToArgv } from './args.js';
import { readKeyFile } from './key-file.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../store/paths.js';
import { defaultDataDir } from '../store/data-folder.js';
import { packageRoot } from '../runtime/session-image.js';
import { MIN_SECRET_LENGTH, Secret } from '../secrets/secret.js';
import { launchdPlist, systemdUnit, type ServiceSpec } from './service-unit.js';
import { terminal } from './terminal.js';

export const SERVICE_USAGE = `Usage: outpost service install [--system|--user] --base-url URL --environment-id ID [worker options]
       outpost service uninstall|status [--system|--user]
Options (besides the worker's own, which the service passes on):
  --system | --user        a system unit run as root (default when run as root) or the user's own
  --name NAME              the unit's (or launchd agent's) name (default outpost-worker)
  --manager systemd|launchd  (default: launchd on macOS, systemd elsewhere)
  --root DIR               write under DIR instead of / and enable nothing (packaging, tests)
The key comes from OUTPOST_ENVIRONMENT_KEY or --environment-key-file at install; it is kept in a 0600
file the service reads (systemd: through LoadCredential=), never in the unit or the worker's argv.
`;

const SERVICE_FLAGS = {
  system: { type: 'boolean', multiple: false },
  user: { type: 'boolean', multiple: false },
  name: { type: 'string', multiple: false },
  manager: { type: 'string', multiple: false },
  root: { type: 'string', multiple: false },
} as const;
type Values = Record<string, string | boolean | string[] | undefined>;

interface Placement {
  spec: ServiceSpec;
  manager: 'systemd' | 'launchd';
  /** The unit or plist, under --root. */
  file: string;
  /** The key file, under --root (spec.keyFile is where the service will find it). */
  keyFileOnDisk: string;
  /** The secret variables' file (`--secret-env`), under --root (spec.environmentFile is where systemd reads it). */
  environmentFileOnDisk: string;
  root: string | undefined;
}

/** `outpost service install|uninstall|status`: the worker as a systemd unit or a launchd agent. */
export async function serviceCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === 'help') {
    terminal.out(SERVICE_USAGE);
    return 0;
  }
  // The worker's own parser (args.ts): what install accepts, the worker reads back the same.
  const options = { ...workerFlagOptions(), ...SERVICE_FLAGS };
  let values: Values;
  try {
    values = parseArgs({ args: rest, options, strict: true }).values;
  } catch (e) {
    return usage((e as Error).message);
  }
  if (sub !== 'install' && sub !== 'uninstall' && sub !== 'status') return usage(sub ? `unknown service command '${sub}'` : 'a service command is required');
  if (values['system'] && values['user']) return usage('--system or --user, not both');
  const placed = placement(values);
  if ('problem' in placed) return usage(placed.problem);
  if (sub === 'install') return install(placed, values);
  if (sub === 'uninstall') return uninstall(placed);
  return status(placed);
}

function usage(problem: string): number {
  terminal.err(`outpost: ${problem}\n\n${SERVICE_USAGE}`);
  return EXIT_USAGE;
}

function placement(values: Values): Placement | { problem: string } {
  const name = (values['name'] as string | undefined) ?? 'outpost-worker';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) return { problem: `--name ${JSON.stringify(name)}: letters, digits, _, - and . only` };
  const manager = (values['manager'] as string | undefined) ?? (process.platform === 'darwin' ? 'launchd' : 'systemd');
  if (manager !== 'systemd' && manager !== 'launchd') return { problem: '--manager: systemd or launchd' };
  const scope = values['system'] ? 'system' : values['user'] || process.getuid?.() !== 0 || manager === 'launchd' ? 'user' : 'system';
  if (manager === 'launchd' && scope === 'system') return { problem: 'a launchd agent is the user’s own: leave out --system' };
  const rootFlag = values['root'] as string | undefined;
  if (rootFlag !== undefined && !isAbsolute(rootFlag)) return { problem: '--root: an absolute path' };
  const home = homedir();
  const [unitDir, keyDir] =
    manager === 'launchd'
      ? [join(home, 'Library/LaunchAgents'), join(home, 'Library/Application Support/Outpost')]
      : scope === 'system'
        ? ['/etc/systemd/system', '/etc/outpost']
        : [join(process.env['XDG_CONFIG_HOME'] || join(home, '.config'), 'systemd/user'), join(process.env['XDG_CONFIG_HOME'] || join(home, '.config'), 'outpost')];
  const file = join(unitDir, manager === 'launchd' ? `${name}.plist` : `${name}.service`);
  const keyFile = join(keyDir, `${name}.key`);
  const environmentFile = join(keyDir, `${name}.env`);
  const under = (path: string) => (rootFlag ? join(rootFlag, path) : path);
  const drain = Number(values['drain-seconds'] ?? 30);
  const grace = Number(values['grace-seconds'] ?? 10);
  const cli = realpathSync(join(packageRoot(), 'dist/electron/core/cli.js'));
  return {
    spec: { name, scope, command: [process.execPath, cli], workerArgs: [], keyFile, environmentFile, drainSeconds: drain, graceSeconds: grace },
    manager,
    file: under(file),
    keyFileOnDisk: under(keyFile),
    environmentFileOnDisk: under(environmentFile),
    root: rootFlag,
  };
}

async function install(placed: Placement, values: Values): Promise<number> {
  const { spec } = placed;
  // A service's output goes to the journal (or its log file), where every reader of the log would find the dashboard's token.
  if (values['dashboard']) return usage('--dashboard: a service’s output goes to its log, and the dashboard’s address carries its token; run `outpost worker --dashboard` yourself instead');
  // The worker's flags, checked now as the worker would (a unit that fails at every start helps no one).
  const worker = Object.fromEntries(Object.entries(values).filter(([k]) => k in workerArgs.shape && k !== 'environment-key-file'));
  // Absolute: a service's working folder is not the one install ran in.
  worker['data-dir'] = resolve((worker['data-dir'] as string | undefined) ?? (spec.scope === 'system' ? '/var/lib/outpost' : defaultDataDir()));
  const parsed = workerArgs.safeParse(worker);
  if (!parsed.success) return usage(parsed.error.issues.map((i) => (i.message.startsWith('--') ? i.message : `--${String(i.path[0])}: ${i.message}`)).join('; '));
  const args = parsed.data;
  if (!args['base-url'] || !args['environment-id']) return usage('--base-url and --environment-id name the environment the service serves');
  const profile = profileFromArgs({ ...args, 'base-url': args['base-url'], 'environment-id': args['environment-id'] });
  if ('problem' in profile) return usage(profile.problem);
  const key = installKey(values['environment-key-file'] as string | undefined);
  if (!(key instanceof Secret)) return usage(key.problem);
  const secretEnv = secretVariables(args['secret-env'], placed.manager);
  if ('problem' in secretEnv) return usage(secretEnv.problem);
  spec.workerArgs = workerFlagsToArgv(worker);
  if (!secretEnv.file) delete spec.environmentFile;
  let content: string;
  try {
    content = placed.manager === 'systemd' ? systemdUnit(spec) : launchdPlist(spec, join(args['data-dir'], 'logs', 'service.log'));
  } catch (e) {
    return usage((e as Error).message);
  }
  writePrivate(placed.keyFileOnDisk, `${key.reveal()}\n`);
  rmSync(placed.environmentFileOnDisk, { force: true });
  if (secretEnv.file) writePrivate(placed.environmentFileOnDisk, secretEnv.file);
  mkdirSync(dirname(placed.file), { recursive: true });
  writeFileSync(placed.file, content, { mode: 0o644 });
  terminal.out(`wrote ${placed.file} and the key to ${placed.keyFileOnDisk} (0600)\n`);
  return enable(placed, 'install');
}

/** The key to keep: OUTPOST_ENVIRONMENT_KEY or the file named, one way; removed from this process's environment. */
function installKey(file: string | undefined): Secret | { problem: string } {
  const fromEnv = process.env['OUTPOST_ENVIRONMENT_KEY'];
  delete process.env['OUTPOST_ENVIRONMENT_KEY'];
  if (file && fromEnv) return { problem: 'the environment key came twice (OUTPOST_ENVIRONMENT_KEY and --environment-key-file): give it one way' };
  if (file) return readKeyFile(file, '--environment-key-file');
  if (!fromEnv) return { problem: 'set OUTPOST_ENVIRONMENT_KEY, or --environment-key-file, to the environment key the service will use' };
  if (fromEnv.length < MIN_SECRET_LENGTH || /\s/.test(fromEnv)) return { problem: 'OUTPOST_ENVIRONMENT_KEY is not one key (too short, or holds a space)' };
  return new Secret(fromEnv);
}

/**
 * `--secret-env NAME`: the worker reads NAME's value from its environment, so the service needs it
 * there — from a 0600 file systemd reads (EnvironmentFile=), never from the unit. launchd has no
 * such file (its plist is world-readable): refused there.
 */
function secretVariables(names: readonly string[], manager: Placement['manager']): { file?: string } | { problem: string } {
  if (!names.length) return {};
  if (manager === 'launchd') return { problem: '--secret-env: a launchd agent can hold a variable only in its plist, which others can read; use the desktop app’s secret variables' };
  const lines: string[] = [];
  for (const name of names) {
    const value = process.env[name] ?? '';
    delete process.env[name];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { problem: `--secret-env ${name}: a variable name is letters, digits and _` };
    if (value.length < MIN_SECRET_LENGTH) return { problem: `--secret-env ${name}: set ${name} to its value, at least ${MIN_SECRET_LENGTH} characters (a shorter one cannot be redacted safely)` };
    if (/[\0-\x1f\x7f]/.test(value)) return { problem: `--secret-env ${name}: its value holds a control character, which a service's environment file cannot carry` };
    // systemd's environment file: in double quotes, \ " ` and $ are escaped, nothing is expanded.
    lines.push(`${name}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`);
  }
  return { file: `${lines.join('\n')}\n` };
}

/** A 0600 file in a 0700 folder, written so that no moment exists where it is readable by others. */
function writePrivate(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dirname(path), PRIVATE_DIR_MODE);
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
}

async function uninstall(placed: Placement): Promise<number> {
  const code = enable(placed, 'uninstall');
  rmSync(placed.file, { force: true });
  rmSync(placed.keyFileOnDisk, { force: true });
  rmSync(placed.environmentFileOnDisk, { force: true });
  terminal.out(`removed ${placed.file} and its key file\n`);
  return code;
}

function status(placed: Placement): number {
  const installed = existsSync(placed.file);
  terminal.out(`${placed.spec.name}: ${installed ? `installed (${placed.file})` : 'not installed'}\n`);
  if (!installed || placed.root) return installed ? 0 : 3;
  const [cmd, args] = managerCommand(placed, 'status');
  try {
    terminal.out(execFileSync(cmd, args, { encoding: 'utf8' }));
    return 0;
  } catch (e) {
    // systemctl status exits 3 for a unit that is not running: its words are the answer.
    terminal.out((e as { stdout?: string }).stdout ?? '');
    return 3;
  }
}

/** Enable and start (install) or stop and disable (uninstall) through systemctl or launchctl; with --root, nothing is run. */
function enable(placed: Placement, what: 'install' | 'uninstall'): number {
  if (placed.root) {
    terminal.out(`--root: not ${what === 'install' ? 'enabled' : 'disabled'}; run ${managerCommand(placed, what).flat().join(' ')} on the target\n`);
    return 0;
  }
  const steps = placed.manager === 'systemd' ? [managerCommand(placed, 'reload'), managerCommand(placed, what)] : [managerCommand(placed, what)];
  for (const [cmd, args] of steps) {
    try {
      execFileSync(cmd, args, { stdio: 'inherit' });
    } catch (e) {
      terminal.err(`outpost: ${cmd} ${args.join(' ')} failed (${(e as Error).message.split('\n')[0]})\n`);
      return 1;
    }
  }
  return 0;
}

function managerCommand(placed: Placement, what: 'install' | 'uninstall' | 'status' | 'reload'): [string, string[]] {
  const { spec } = placed;
  if (placed.manager === 'launchd') {
    const domain = `gui/${process.getuid?.() ?? 501}`;
    if (what === 'install') return ['launchctl', ['bootstrap', domain, placed.file]];
    if (what === 'uninstall') return ['launchctl', ['bootout', `${domain}/${spec.name}`]];
    return ['launchctl', ['print', `${domain}/${spec.name}`]];
  }
  const scope = spec.scope === 'user' ? ['--user'] : [];
  if (what === 'reload') return ['systemctl', [...scope, 'daemon-reload']];
  if (what === 'install') return ['systemctl', [...scope, 'enable', '--now', `${spec.name}.service`]];
  if (what === 'uninstall') return ['systemctl', [...scope, 'disable', '--now', `${spec.name}.service`]];
  return ['systemctl', [...scope, 'status', '--no-pager', `${spec.name}.service`]];
}
