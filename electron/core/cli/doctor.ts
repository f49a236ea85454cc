import { parseArgs } from 'node:util';
import { environmentProfileSchema } from '../../../shared/contract.js';
import { EXIT_USAGE, prepareDataDir } from './args.js';
import { terminal } from './terminal.js';
import { checkLine, checkMachine } from '../doctor/checks.js';
import { openEngine } from '../runtime/engine.js';
import { KeytarSecretStore } from '../secrets/keytar-store.js';
import { defaultDataDir } from '../store/data-folder.js';

export const DOCTOR_USAGE = `Usage: outpost doctor [--docker-host URL] [--data-dir DIR] [--no-keychain]

Checks, one line each, what sessions need on this machine: which Docker engine and how it was found;
rootless or not, and the limits it enforces; the session image is there; a session container starts
(no network); a session can write its workspace and you can read what it wrote; the data folder is
on a file system the engine can share; the egress path carries a connection end to end (allowlist);
the system keychain answers. ✔ or ✘ with the fix; exit 0 only when all pass.
--no-keychain skips the keychain: a headless worker given its key by OUTPOST_ENVIRONMENT_KEY or
--environment-key-file never opens one (the desktop app and the dashboard's setup do).
`;

/** `outpost doctor`: the machine's checks (doctor/checks.ts), a line each as each is decided; exit 0 only when none failed. */
export async function doctorCommand(argv: string[]): Promise<number> {
  let values: { 'docker-host'?: string; 'data-dir'?: string; 'no-keychain'?: boolean; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { 'docker-host': { type: 'string' }, 'data-dir': { type: 'string' }, 'no-keychain': { type: 'boolean' }, help: { type: 'boolean' } }, strict: true }).values;
  } catch (e) {
    terminal.err(`outpost: ${(e as Error).message}\n\n${DOCTOR_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    terminal.out(DOCTOR_USAGE);
    return 0;
  }
  const dataDir = values['data-dir'] ?? defaultDataDir();
  // A new environment's limits: what a session gets unless its profile says otherwise.
  const { cpus, memoryMb, pids } = environmentProfileSchema.parse({ environmentId: 'doctor' });
  const checks = await checkMachine({
    head: 'cli',
    engine: openEngine({ flag: values['docker-host'] }),
    dataDir,
    dataDirProblem: prepareDataDir(dataDir),
    keychain: values['no-keychain'] ? undefined : new KeytarSecretStore(process.env['OUTPOST_KEYCHAIN_SERVICE'] || 'Outpost'),
    limits: { cpus, memoryMb, pids },
    onCheck: (check) => terminal.out(`${checkLine(check)}\n`),
  });
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
