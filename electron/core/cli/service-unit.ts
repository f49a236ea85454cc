/**
 * What `outpost service install` writes: a systemd unit (system or user) or a launchd agent that runs
 * `outpost worker` with the environment key in a file, never in the unit, the plist or argv. Pure
 * rendering; cli-service.ts writes and enables.
 */

/** Stop = drain + grace + this: the worker's own shutdown (stop items, remove containers) after SIGKILL of the sessions. */
export const STOP_MARGIN_SECONDS = 15;
/** The credential's name in systemd's credentials folder ($CREDENTIALS_DIRECTORY, `%d` in the unit). */
export const CREDENTIAL = 'environment-key';
/** A usage error (exit 64) with a wrong key or environment (exit 2) would fail again at once: not restarted. */
const NOT_RESTARTED = '2 64';

export interface ServiceSpec {
  /** Unit or agent name: letters, digits, `-`, `_`, `.` (checked by the caller). */
  name: string;
  scope: 'system' | 'user';
  /** node, then the CLI's path: absolute. */
  command: string[];
  /** `outpost worker`'s flags, the key file's excepted. */
  workerArgs: string[];
  /** Where the key is kept: systemd's LoadCredential= source (system) or the file the worker reads (user, launchd). */
  keyFile: string;
  /** systemd's EnvironmentFile= (0600): the `--secret-env` variables' values, which the worker reads from its environment. */
  environmentFile?: string;
  drainSeconds: number;
  graceSeconds: number;
}

export const stopTimeoutSeconds = (spec: Pick<ServiceSpec, 'drainSeconds' | 'graceSeconds'>) => spec.drainSeconds + spec.graceSeconds + STOP_MARGIN_SECONDS;

/**
 * The systemd unit. A system unit gets the key through LoadCredential= (systemd copies it into a
 * folder only the service can read, `%d`); a user unit reads the user's own 0600 file: credentials
 * in the per-user manager are not in every systemd a desktop has. SIGTERM starts the drain; systemd
 * waits drain + grace + margin before SIGKILL (KillMode=mixed: then everything left in the cgroup).
 */
export function systemdUnit(spec: ServiceSpec): string {
  const system = spec.scope === 'system';
  // %d: the credentials folder, a specifier systemd resolves (so not escaped like the rest).
  const keyArg = system ? `"%d/${CREDENTIAL}"` : quoteForSystemd(spec.keyFile);
  const argv = [...[...spec.command, 'worker', ...spec.workerArgs, '--environment-key-file'].map(quoteForSystemd), keyArg];
  return [
    '# Written by `outpost service install`; `outpost service uninstall` removes it.',
    '[Unit]',
    'Description=Outpost worker: runs cloud agent sessions in local Docker containers',
    ...(system ? ['After=network-online.target docker.service', 'Wants=network-online.target'] : []),
    '',
    '[Service]',
    'Type=exec',
    // The key file's path is in the unit; the key is not (and %d is resolved by systemd, not a shell).
    `ExecStart=${argv.join(' ')}`,
    ...(system ? [`LoadCredential=${CREDENTIAL}:${spec.keyFile}`] : []),
    ...(spec.environmentFile ? [`EnvironmentFile=${spec.environmentFile.replace(/%/g, '%%')}`] : []),
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${stopTimeoutSeconds(spec)}`,
    'Restart=on-failure',
    'RestartSec=5',
    `RestartPreventExitStatus=${NOT_RESTARTED}`,
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    ...(system ? ['ProtectSystem=full', 'UMask=0077'] : ['UMask=0077']),
    '',
    '[Install]',
    `WantedBy=${system ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}

/**
 * A word of ExecStart=, quoted: systemd splits on spaces, unescapes C-style inside double quotes,
 * and expands `%` specifiers and `$` variables even there (doubled to stay literal).
 */
export function quoteForSystemd(arg: string): string {
  if (/[\0-\x1f\x7f]/.test(arg)) throw new Error(`a control character cannot go into a unit file: ${JSON.stringify(arg)}`);
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/**
 * The launchd agent (macOS): started at login, restarted when it exits with a failure, given
 * drain + grace + margin after SIGTERM (ExitTimeOut) before launchd kills it. launchd has no
 * credentials folder: the key is the user's 0600 file.
 */
export function launchdPlist(spec: ServiceSpec, logFile: string): string {
  const argv = [...spec.command, 'worker', ...spec.workerArgs, '--environment-key-file', spec.keyFile];
  const string = (s: string) => `<string>${s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</string>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>${string(spec.name)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...argv.map((arg) => `    ${string(arg)}`),
    '  </array>',
    '  <key>RunAtLoad</key><true/>',
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    `  <key>ExitTimeOut</key><integer>${stopTimeoutSeconds(spec)}</integer>`,
    '  <key>Umask</key><integer>63</integer>',
    `  <key>StandardOutPath</key>${string(logFile)}`,
    `  <key>StandardErrorPath</key>${string(logFile)}`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
