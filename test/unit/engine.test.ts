import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dockerOptionsFor, findEngine, type EngineChoice } from '../../electron/core/runtime/engine.js';

/** A fake home with a ~/.docker tree as the docker CLI writes it, and real sockets where engines put theirs. */
class FakeHome {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-engine-home-'));
  readonly #servers: Server[] = [];

  context(name: string, host: string, extra: Record<string, unknown> = {}): this {
    const id = createHash('sha256').update(name).digest('hex');
    mkdirSync(join(this.dir, '.docker/contexts/meta', id), { recursive: true });
    writeFileSync(join(this.dir, '.docker/contexts/meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false, ...extra } } }));
    return this;
  }

  currentContext(name: string): this {
    mkdirSync(join(this.dir, '.docker'), { recursive: true });
    writeFileSync(join(this.dir, '.docker/config.json'), JSON.stringify({ auths: {}, currentContext: name }));
    return this;
  }

  async socket(relative: string): Promise<string> {
    const path = join(this.dir, relative);
    mkdirSync(join(path, '..'), { recursive: true });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    this.#servers.push(server);
    return path;
  }

  find(over: Partial<Parameters<typeof findEngine>[0]> = {}): EngineChoice {
    return findEngine({ home: this.dir, env: {}, platform: 'linux', ...over });
  }

  dispose(): void {
    for (const s of this.#servers) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const homes: FakeHome[] = [];
const home = () => {
  const h = new FakeHome();
  homes.push(h);
  return h;
};
after(() => homes.forEach((h) => h.dispose()));

function endpointOf(choice: EngineChoice) {
  assert.ok('endpoint' in choice, `expected an engine, got: ${'problem' in choice ? choice.problem : ''}`);
  return choice.endpoint;
}

describe('finding the Docker engine as the docker CLI does', () => {
  it('the current context of ~/.docker/config.json is used, not /var/run/docker.sock', () => {
    const h = home().context('rootless', 'unix:///run/user/1000/docker.sock').currentContext('rootless');
    const endpoint = endpointOf(h.find());
    assert.equal(endpoint.host, 'unix:///run/user/1000/docker.sock');
    assert.match(endpoint.foundBy, /Docker context rootless .*config\.json/);
  });

  it('DOCKER_CONTEXT wins over config.json; DOCKER_HOST over both; the settings over DOCKER_HOST; the flag over all', () => {
    const h = home().context('a', 'unix:///a.sock').context('b', 'unix:///b.sock').currentContext('a');
    assert.equal(endpointOf(h.find({ env: { DOCKER_CONTEXT: 'b' } })).host, 'unix:///b.sock');
    assert.match(endpointOf(h.find({ env: { DOCKER_CONTEXT: 'b' } })).foundBy, /DOCKER_CONTEXT/);
    const fromEnv = endpointOf(h.find({ env: { DOCKER_CONTEXT: 'b', DOCKER_HOST: 'tcp://127.0.0.1:2375' } }));
    assert.equal(fromEnv.host, 'tcp://127.0.0.1:2375');
    assert.equal(fromEnv.foundBy, 'DOCKER_HOST');
    assert.equal(endpointOf(h.find({ env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' }, setting: 'unix:///set.sock' })).host, 'unix:///set.sock');
    const flag = endpointOf(h.find({ env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' }, setting: 'unix:///set.sock', flag: 'unix:///flag.sock' }));
    assert.equal(flag.host, 'unix:///flag.sock');
    assert.equal(flag.foundBy, 'the --docker-host flag');
  });

  it('DOCKER_CONFIG moves the config folder, as it does for the CLI', () => {
    const h = home().context('moved', 'unix:///moved.sock').currentContext('moved');
    const other = home();
    assert.equal(endpointOf(other.find({ env: { DOCKER_CONFIG: join(h.dir, '.docker') } })).host, 'unix:///moved.sock');
  });

  it('the context named default is no context: the search goes on to the sockets', async () => {
    const h = home().currentContext('default');
    const colima = await h.socket('.colima/default/docker.sock');
    const endpoint = endpointOf(h.find());
    assert.equal(endpoint.host, `unix://${colima}`);
    assert.match(endpoint.foundBy, /Colima/);
  });

  it('a context that is not there is refused in words, naming where it was named', () => {
    const choice = home().currentContext('gone').find();
    assert.ok('problem' in choice);
    assert.match(choice.problem, /Docker context gone .*config\.json.*not there.*docker context ls/);
  });

  it('an ssh:// endpoint is refused in words, whoever names it, and the value is not repeated', () => {
    const h = home().context('remote', 'ssh://me:hunter2@build-box').currentContext('remote');
    for (const choice of [h.find(), h.find({ env: { DOCKER_HOST: 'ssh://me:hunter2@x' } }), h.find({ flag: 'SSH://x' }), h.find({ setting: 'ssh://x' })]) {
      assert.ok('problem' in choice);
      assert.match(choice.problem, /ssh:\/\/… is not supported: Outpost runs sessions on this machine’s Docker engine/);
      assert.doesNotMatch(choice.problem, /hunter2/);
    }
    const ctx = h.find();
    assert.ok('problem' in ctx && /Docker context remote .*docker context use default/.test(ctx.problem));
    const flag = h.find({ flag: 'ssh://x' });
    assert.ok('problem' in flag && /^--docker-host ssh:\/\/…/.test(flag.problem));
    const env = h.find({ env: { DOCKER_HOST: 'ssh://x' } });
    assert.ok('problem' in env && /^DOCKER_HOST=ssh:\/\/…/.test(env.problem));
  });

  it('the desktop engines’ sockets are found in order, the others named; Podman rootless under XDG_RUNTIME_DIR', async () => {
    const h = home();
    const runtimeDir = join(h.dir, 'run-user');
    const podman = await h.socket('run-user/podman/podman.sock');
    let choice = h.find({ env: { XDG_RUNTIME_DIR: runtimeDir } });
    assert.equal(endpointOf(choice).host, `unix://${podman}`);
    assert.match(endpointOf(choice).foundBy, /rootless Podman/);
    const orb = await h.socket('.orbstack/run/docker.sock');
    const desktop = await h.socket('.docker/run/docker.sock');
    choice = h.find({ env: { XDG_RUNTIME_DIR: runtimeDir } });
    assert.equal(endpointOf(choice).host, `unix://${desktop}`);
    assert.match(endpointOf(choice).foundBy, /Docker Desktop/);
    assert.ok('othersFound' in choice);
    assert.deepEqual(choice.othersFound.slice(0, 2), [`unix://${orb}`, `unix://${podman}`]);
  });

  it('a file that is not a socket where one is expected is passed over', () => {
    const h = home();
    mkdirSync(join(h.dir, '.rd'), { recursive: true });
    writeFileSync(join(h.dir, '.rd/docker.sock'), 'not a socket');
    assert.doesNotMatch(endpointOf(h.find()).host, /\.rd/);
  });

  it('Windows: Docker Desktop’s named pipe, as the CLI', () => {
    assert.equal(endpointOf(home().find({ platform: 'win32' })).host, 'npipe:////./pipe/docker_engine');
    assert.deepEqual(dockerOptionsFor({ host: 'npipe:////./pipe/docker_engine', foundBy: '' }), { socketPath: '\\\\.\\pipe\\docker_engine' });
  });

  it('dockerode is given the socket path, or the host and port; DOCKER_HOST is left to dockerode’s own parse (its TLS variables)', () => {
    assert.deepEqual(dockerOptionsFor({ host: 'unix:///run/user/1000/docker.sock', foundBy: '' }), { socketPath: '/run/user/1000/docker.sock' });
    assert.deepEqual(dockerOptionsFor({ host: 'tcp://127.0.0.1:2375', foundBy: '' }), { host: '127.0.0.1', port: '2375', protocol: 'http' });
    assert.equal(dockerOptionsFor({ host: 'tcp://127.0.0.1:2376', foundBy: 'DOCKER_HOST', fromEnvironment: true }), undefined);
  });

  it('a context’s TLS material is read from contexts/tls/<id>/docker', () => {
    const h = home().context('secure', 'tcp://127.0.0.1:2376').currentContext('secure');
    const id = createHash('sha256').update('secure').digest('hex');
    mkdirSync(join(h.dir, '.docker/contexts/tls', id, 'docker'), { recursive: true });
    writeFileSync(join(h.dir, '.docker/contexts/tls', id, 'docker/ca.pem'), 'CA');
    const endpoint = endpointOf(h.find());
    assert.equal(endpoint.tls?.ca?.toString(), 'CA');
    assert.equal(dockerOptionsFor(endpoint)?.protocol, 'https');
  });
});
