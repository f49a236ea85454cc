import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calls, events, CHANNELS, settingsSchema } from '../../shared/contract.js';
import { CHANNEL_NAMES } from '../../shared/channels.js';

/** One valid message of each kind; every one must survive its schema unchanged. */
const samples = {
  requests: {
    'worker.state': {},
    'worker.start': {},
    'worker.pause': {},
    'worker.resume': {},
    'worker.stop': { mode: 'drain' },
    'items.list': {},
    'items.stop': { workId: 'work_1' },
    'settings.get': {},
    'settings.update': { servedEnvironmentId: 'env_1', environment: { environmentId: 'env_1', maxSessions: 3 } },
    'keys.status': { kind: 'environment-key', environmentId: 'env_1' },
    'keys.set': { kind: 'api-key', value: 'sk-ant-api03-xxxxxxxx' },
    'keys.clear': { kind: 'api-key' },
    'account.connect': { apiKey: 'sk-ant-api03-xxxxxxxx', apiBaseUrl: 'http://127.0.0.1:9' },
    'environments.list': { includeArchived: true },
    'environments.stats': { environmentId: 'env_1' },
    'environments.create': { name: 'laptop' },
    'environments.archive': { environmentId: 'env_1' },
    'items.usage': {},
    'history.list': {},
    'logs.info': { source: { kind: 'app' } },
    'logs.lines': { source: { kind: 'session', environmentId: 'env_1', workId: 'work_1' }, from: 0, count: 100 },
    'logs.search': { source: { kind: 'session', environmentId: 'env_1', workId: 'work_1' }, query: 'error', limit: 10 },
    'workspace.list': { environmentId: 'env_1', workId: 'work_1' },
    'workspace.read': { environmentId: 'env_1', workId: 'work_1', path: 'src/a.txt' },
    'egress.list': { environmentId: 'env_1', workId: 'work_1' },
    'egress.allow': { environmentId: 'env_1', entry: 'pypi.org' },
    'engine.describe': {},
    'machine.check': {},
  },
  responses: {
    'worker.state': { status: 'online', active: 1 },
    'worker.start': null,
    'worker.pause': null,
    'worker.resume': null,
    'worker.stop': null,
    'items.list': [{ workId: 'w', environmentId: 'e', kind: 'session', subjectId: 's', status: 'running', claimedAt: 1, updatedAt: 2 }],
    'items.stop': true,
    'settings.get': settingsSchema.parse({}),
    'settings.update': settingsSchema.parse({}),
    'keys.status': { set: false },
    'keys.set': null,
    'keys.clear': null,
    'account.connect': null,
    'environments.list': [{ id: 'env_1', name: 'laptop', selfHosted: true, archivedAt: null, createdAt: '2026-11-25T00:00:00Z' }],
    'environments.stats': { depth: 1, pending: 0, workersPolling: 2, oldestQueuedAt: null },
    'environments.create': { id: 'env_1', name: 'laptop', selfHosted: true, archivedAt: null, createdAt: '2026-11-25T00:00:00Z' },
    'environments.archive': { id: 'env_1', name: 'laptop', selfHosted: true, archivedAt: '2026-11-25T01:00:00Z', createdAt: '2026-11-25T00:00:00Z' },
    'items.usage': [{ workId: 'w', cpuPercent: 12.5, memoryBytes: 1024 }],
    'history.list': [{ workId: 'w', environmentId: 'e', kind: 'session', subjectId: 's', status: 'finished', claimedAt: 1, endedAt: 2, reason: 'ended', hasLog: true }],
    'logs.info': { lines: 10, bytes: 100 },
    'logs.lines': ['one', 'two'],
    'logs.search': { matches: [3], total: 1 },
    'workspace.list': [{ path: 'src', size: 0, directory: true }],
    'workspace.read': { base64: 'aGk=', size: 2 },
    'egress.allow': settingsSchema.parse({}),
    'engine.describe': {
      inUse: {
        host: 'unix:///run/user/1000/podman/podman.sock',
        foundBy: 'DOCKER_HOST',
        engine: { kind: 'Podman', version: '4.3.1', rootless: true, userNamespaces: true, cgroupVersion: '1', unenforced: ['this rootless engine on cgroup v1 enforces no memory, CPU or process limit'] },
        line: 'Podman 4.3.1 (rootless, cgroup v1) at unix:///run/user/1000/podman/podman.sock, found by DOCKER_HOST',
      },
      found: [{ host: 'unix:///var/run/docker.sock', foundBy: 'its socket /var/run/docker.sock', error: 'nothing answers: connect EACCES' }],
      setting: '',
      settingPending: false,
    },
    'machine.check': [
      { topic: 'engine', status: 'ok', line: 'Docker engine: Docker 20.10.24 (rootful, cgroup v1) at unix:///var/run/docker.sock, found by the default socket /var/run/docker.sock' },
      { topic: 'limits', status: 'fail', line: 'rootless engine: …', fix: 'Use a rootful engine.' },
      { topic: 'keychain', status: 'skipped', line: 'keychain: not checked' },
    ],
    'egress.list': [{ workId: 'w', id: 2, at: 1, method: 'CONNECT', host: 'evil.test', port: 443, allowed: false, rule: 'not on the allowlist: add evil.test', bytesUp: 0, bytesDown: 0, durationMs: 0, suggest: 'evil.test' }],
  },
  events: {
    'worker-state': { status: 'draining', active: 2, deadline: 123 },
    'item-state': { workId: 'w', environmentId: 'e', kind: 'healthcheck', subjectId: 'h', status: 'finished', claimedAt: 1, updatedAt: 2, reason: 'ok' },
    notice: { level: 'error', message: 'Docker is not reachable' },
    'open-view': { view: 'log', environmentId: 'env_1', workId: 'work_1', title: 'sesn_1' },
    egress: { workId: 'w', id: 1, open: true, at: 1, method: 'CONNECT', host: 'pypi.org', port: 443, allowed: true, rule: 'allowlist: pypi.org', address: '151.101.0.223', bytesUp: 10, bytesDown: 20, durationMs: 30 },
  },
} as const;

describe('the contract', () => {
  it('names the same calls in the zod-free list the preload uses and in the schemas', () => {
    assert.deepEqual([...CHANNEL_NAMES].sort(), Object.keys(calls).sort());
    assert.deepEqual([...CHANNELS], [...CHANNEL_NAMES]);
  });

  it('round-trips every request, response and event through its schema', () => {
    for (const channel of CHANNELS) {
      const request = samples.requests[channel];
      const response = samples.responses[channel];
      assert.deepEqual(calls[channel].request.parse(JSON.parse(JSON.stringify(request))), request, `${channel} request`);
      assert.deepEqual(calls[channel].response.parse(JSON.parse(JSON.stringify(response))), response, `${channel} response`);
    }
    for (const [name, schema] of Object.entries(events)) {
      const payload = samples.events[name as keyof typeof events];
      assert.deepEqual(schema.parse(JSON.parse(JSON.stringify(payload))), payload, name);
    }
  });

  it('refuses malformed messages', () => {
    const bad: Array<[keyof typeof calls, unknown]> = [
      ['worker.stop', { mode: 'later' }],
      ['worker.stop', {}],
      ['items.stop', { workId: 42 }],
      ['keys.set', { kind: 'api-key', value: 'short' }],
      ['keys.set', { kind: 'environment-key', environmentId: '../../etc', value: 'sk-ant-xxxxxxxxxxxx' }],
      ['keys.status', { kind: 'password' }],
      ['worker.start', { extra: true }],
      ['logs.lines', { source: { kind: 'session', environmentId: 'e', workId: 'w' }, from: -1, count: 10 }],
      ['logs.lines', { source: { kind: 'file', path: '/etc/passwd' }, from: 0, count: 10 }],
      // A session's files are named by its environment too: a work id alone names none.
      ['workspace.list', { workId: 'work_1' }],
      ['logs.info', { source: { kind: 'session', workId: 'work_1' } }],
      ['environments.create', { name: '   ' }],
      ['settings.update', { environment: { environmentId: 'env_1', maxSessions: 0 } }],
      ['settings.update', { environment: { environmentId: 'env_1', baseUrl: 'not a url' } }],
      ['settings.update', { environment: { maxSessions: 3 } }],
      ['settings.update', { environments: [] }],
      ['machine.check', { head: 'cli' }],
    ];
    for (const [channel, message] of bad) assert.equal(calls[channel].request.safeParse(message).success, false, `${channel} ${JSON.stringify(message)}`);
    assert.equal(events['worker-state'].safeParse({ status: 'online' }).success, false);
    // A view to open names a log by its work id, checked like any other: never a path.
    assert.equal(events['open-view'].safeParse({ view: 'log', workId: '../../etc', title: 'x' }).success, false);
    assert.equal(events['open-view'].safeParse({ view: 'file', path: '/etc/passwd' }).success, false);
  });

  it('a settings patch fills in no default: it changes only what it names', () => {
    assert.deepEqual(calls['settings.update'].request.parse({ environment: { environmentId: 'env_1', cpus: 4 } }), { environment: { environmentId: 'env_1', cpus: 4 } });
    assert.deepEqual(calls['settings.update'].request.parse({}), {});
  });

  it('carries no key outward: no response or event schema has a field that could hold one', () => {
    const shapes = JSON.stringify([...CHANNELS.map((c) => calls[c].response.toJSONSchema?.() ?? {}), ...Object.values(events).map((e) => e.toJSONSchema?.() ?? {})]);
    assert.doesNotMatch(shapes, /"(value|key|token|secret|apiKey|environmentKey)"/);
  });
});
