import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { environmentProfileSchema } from '../../shared/contract.js';
import { SESSION_CONTAINERS } from '../../electron/core/secrets/key-origins.js';
import { createLogger } from '../../electron/core/logs/log.js';
import { originOf } from '../../electron/core/secrets/key-origins.js';
import { Outpost } from '../../electron/core/outpost.js';
import { buildScriptImage, inspectAll } from '../helpers/docker.js';
import { memorySecrets } from '../helpers/secrets.js';
import { waitFor } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

const SECRET = 'hunter2-the-database-password';

/**
 * The rest of an environment profile against real Docker: its variables (a secret one
 * from the keychain, redacted in every log) and its read-only mounts (the dangerous ones refused).
 */
describe('an environment’s variables and read-only folders reach its sessions, and nothing more', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const opened: Outpost[] = [];
  const root = mkdtempSync(join(tmpdir(), 'outpost-profile-'));
  const datasets = join(root, 'datasets');

  before(async () => {
    await playground.start();
    mkdirSync(datasets);
    writeFileSync(join(datasets, 'hello.txt'), 'read me\n');
    await buildScriptImage(
      'outpost-test-profile',
      'echo "plain=$NODE_ENV"; echo "secret=$DB_PASSWORD"; cat /mnt/datasets/hello.txt; ' +
        'touch /mnt/datasets/new 2>&1 || echo "cannot create"; echo x 2>&1 > /mnt/datasets/hello.txt || echo "cannot write"; ls /var/run/docker.sock 2>&1 || echo "no docker socket"',
    );
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    await playground.close();
  });

  async function open(profile: Record<string, unknown>, dataDir = mkdtempSync(join(tmpdir(), 'outpost-profile-data-'))) {
    const { environment, environmentKey } = playground.createEnvironment('profile');
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', sink: { write: (line) => void lines.push(line) } });
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger });
    opened.push(outpost);
    const parsed = environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, egress: 'none', graceSeconds: 1, image: 'outpost-test-profile', ...profile });
    await secrets.set({ kind: 'environment-key', environmentId: parsed.environmentId }, environmentKey, originOf(parsed.baseUrl));
    return { outpost, parsed, secrets, dataDir, lines, environmentId: environment.id };
  }

  it('a variable and a secret variable reach the session; the secret is in no log; the folder is readable, not writable', async () => {
    const { outpost, parsed, secrets, dataDir, lines, environmentId } = await open({
      envVars: [{ name: 'NODE_ENV', text: 'production' }, { name: 'DB_PASSWORD', inKeychain: true }],
      mounts: [{ source: datasets }],
    });
    await assert.rejects(outpost.serve(parsed), /Set the value of the secret variable DB_PASSWORD/, 'a secret with no value stops the start, in words');
    await secrets.set({ kind: 'env-var', environmentId, name: 'DB_PASSWORD' }, SECRET, SESSION_CONTAINERS);
    await outpost.startWorker();
    const item = playground.enqueue(environmentId);
    const installId = readFileSync(join(dataDir, 'install-id'), 'utf8').trim();
    const info = (await waitFor('the container', async () => (await inspectAll(installId)).find((c) => c.Config.Labels['outpost.work_id'] === item.id), 30_000, 50))!;
    assert.ok(info.Config.Env.includes(`DB_PASSWORD=${SECRET}`), 'the secret reaches the container');
    assert.deepEqual(info.Mounts.filter((m) => m.Destination === '/mnt/datasets').map((m) => [m.Source, m.RW]), [[datasets, false]]);
    await waitFor('the session to end', () => outpost.history.list().some((h) => h.workId === item.id), 30_000);

    const log = readFileSync(sessionFiles(dataDir, item.environment_id, item.id).log, 'utf8');
    assert.match(log, /^plain=production$/m);
    assert.match(log, /^secret=\[redacted\]$/m, 'the session printed it: its log says [redacted]');
    assert.match(log, /^read me$/m);
    assert.match(log, /Read-only file system[\s\S]*cannot create/);
    assert.match(log, /cannot write/);
    assert.match(log, /no docker socket/);
    assert.equal(readFileSync(join(datasets, 'hello.txt'), 'utf8'), 'read me\n', 'the host’s file is unchanged');
    for (const [name, text] of [
      ['the session log', log],
      ['Outpost’s log', lines.join('')],
      ['the settings', readFileSync(join(dataDir, 'settings.json'), 'utf8')],
      ['the history', readFileSync(join(dataDir, 'history.jsonl'), 'utf8')],
      ['settings.get', JSON.stringify(await outpost.handle('settings.get', {}))],
    ]) {
      assert.ok(!text!.includes(SECRET), `the secret is not in ${name}`);
    }
    await outpost.stopWorker('now');
  });

  it('refuses a dangerous folder before the first claim, saying which and why', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-profile-data-'));
    symlinkSync(dataDir, join(root, 'looks-harmless'));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ source: '/' }, /refused to mount \/: the whole file system/],
      [{ source: dataDir }, /Outpost’s data folder/],
      [{ source: join(root, 'looks-harmless') }, /looks-harmless \(it leads to .*\): it holds or is inside Outpost’s data folder/],
      [{ source: '/var/run' }, /runtime state/],
      [{ source: '/proc' }, /proc file system/],
      [{ source: datasets, target: '/workspace' }, /would hide the session’s own files/],
    ];
    for (const [mount, words] of cases) {
      const { outpost, parsed } = await open({ mounts: [mount] }, dataDir);
      await assert.rejects(outpost.serve(parsed), words, JSON.stringify(mount));
      assert.equal(outpost.workerState.status, 'off', 'nothing claimed');
      await outpost.dispose();
    }
  });

  it('a folder swapped for a symlink after the start is judged again at the session’s create: refused in words, never mounted', async () => {
    const project = join(root, 'project');
    mkdirSync(join(project, 'datasets'), { recursive: true });
    writeFileSync(join(project, 'datasets', 'hello.txt'), 'read me\n');
    const { outpost, parsed, dataDir, environmentId } = await open({ mounts: [{ source: join(project, 'datasets') }] });
    await outpost.serve(parsed);
    // Checked and accepted; now the folder becomes a way into the data folder (settings, sockets, other sessions' files).
    renameSync(project, join(root, 'project-was'));
    symlinkSync(dataDir, project);
    mkdirSync(join(dataDir, 'datasets'));
    writeFileSync(join(dataDir, 'datasets', 'hello.txt'), 'a file of the data folder\n');
    const item = playground.enqueue(environmentId);
    const ended = (await waitFor('the item to end', () => outpost.history.list().find((h) => h.workId === item.id), 30_000))!;
    assert.equal(ended.status, 'failed');
    assert.match(ended.reason ?? '', /refused to mount .*datasets \(it leads to .*\): it holds or is inside Outpost’s data folder/);
    const log = (() => {
      try {
        return readFileSync(join(dataDir, 'logs', 'sessions', `${item.id}.log`), 'utf8');
      } catch {
        return '';
      }
    })();
    assert.ok(!log.includes('a file of the data folder'), 'the session never read the data folder');
    await outpost.stopWorker('now');
  });
});
