import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJson, sendJson } from './http.js';
import { answerHuge, answerSlowly, Faults, type FaultRule as GenericFaultRule } from './faults.js';

/**
 * A local stand-in for AINative's Bridge Environments API (seed 000): bearer auth,
 * bridge environments with an inactivity window (no heartbeat within next_heartbeat_ms
 * → disconnected, until /bridge/reconnect), a work queue polled with poll_interval_ms,
 * ack with a result, stop with a reason, providers, delete — and the same fault knobs
 * as the Anthropic playground. Errors are `{detail}` bodies with the documented statuses.
 *
 * The document does not say how a disconnected environment answers a poll or heartbeat;
 * the playground answers 409 `{detail: "environment disconnected"}` until it is reconnected.
 */

export type BridgeRoute =
  | 'providers.list'
  | 'environments.create'
  | 'environments.delete'
  | 'work.poll'
  | 'work.ack'
  | 'work.stop'
  | 'work.heartbeat'
  | 'bridge.reconnect';
export type BridgeFaultRule = GenericFaultRule<BridgeRoute>;

export interface BridgeEnvironment {
  environment_id: string;
  provider: string;
  status: 'active' | 'disconnected' | 'deleted';
  created_at: string;
  metadata: Record<string, unknown>;
  lastHeartbeatAt: number;
  reconnects: number;
  polls: number;
}

export interface BridgeWork {
  work_id: string;
  type: string;
  payload: Record<string, unknown>;
  created_at: string;
  environmentId: string;
  state: 'pending' | 'in_flight' | 'acknowledged' | 'stopped';
  deliveries: number;
  /** Successful acks and stops: a result delivered twice shows here. */
  reports: number;
  result?: Record<string, unknown>;
  stopReason?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface BridgePlaygroundOptions {
  token?: string;
  pollIntervalMs?: number;
  /** next_heartbeat_ms: the inactivity window after which an environment is marked disconnected. */
  heartbeatMs?: number;
  /** Hostile: hand out an item again until it is acked or stopped (seed 000: the poll "returns the first pending item"). */
  redeliverUnacked?: boolean;
  /** Hostile: a disconnected environment answers heartbeats 200 `status: "disconnected"` and polls 200 with no work, never 409. */
  quietDisconnect?: boolean;
}

export class BridgePlayground {
  readonly token: string;
  readonly pollIntervalMs: number;
  readonly heartbeatMs: number;
  /** See BridgePlaygroundOptions; a test may switch them for a while. */
  redeliverUnacked: boolean;
  quietDisconnect: boolean;
  readonly environments = new Map<string, BridgeEnvironment>();
  readonly work = new Map<string, BridgeWork>();
  readonly requests: Partial<Record<BridgeRoute, number>> = {};
  readonly #faults = new Faults<BridgeRoute>();
  readonly #server: Server;
  #sweeper: NodeJS.Timeout | undefined;
  url = '';

  constructor(opts: BridgePlaygroundOptions = {}) {
    this.token = opts.token ?? `ainative-${randomBytes(16).toString('hex')}`;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? 30_000;
    this.redeliverUnacked = opts.redeliverUnacked ?? false;
    this.quietDisconnect = opts.quietDisconnect ?? false;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    this.#sweeper = setInterval(() => this.#markInactive(), 100);
    return this.url;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  createEnvironment(provider = 'byoc', metadata: Record<string, unknown> = {}): BridgeEnvironment {
    const env: BridgeEnvironment = {
      environment_id: randomUUID(),
      provider,
      status: 'active',
      created_at: new Date().toISOString(),
      metadata,
      lastHeartbeatAt: Date.now(),
      reconnects: 0,
      polls: 0,
    };
    this.environments.set(env.environment_id, env);
    return env;
  }

  /** Queue work; `workId` chooses its id (a test of a hostile control plane may choose `..`). */
  enqueue(environmentId: string, type: string, payload: Record<string, unknown>, workId?: string): BridgeWork {
    const work: BridgeWork = {
      work_id: workId ?? `w-${randomBytes(6).toString('hex')}`,
      type,
      payload,
      created_at: new Date().toISOString(),
      environmentId,
      state: 'pending',
      deliveries: 0,
      reports: 0,
    };
    this.work.set(work.work_id, work);
    return work;
  }

  addFault(rule: BridgeFaultRule): void {
    this.#faults.add(rule);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://playground');
    try {
      const route = this.#route(req.method ?? 'GET', url.pathname);
      if (!route) throw new HttpError(404, 'Not Found');
      this.requests[route.name] = (this.requests[route.name] ?? 0) + 1;
      const fault = this.#faults.take(route.name);
      if (fault?.hang) return;
      if (fault?.trickle) return answerSlowly(res, fault.trickleMs);
      if (fault?.hugeBytes) return answerHuge(res, fault.hugeBytes);
      if (fault?.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
      if (fault?.status) throw new HttpError(fault.status, `injected fault (${fault.status})`);
      if (req.headers['authorization'] !== `Bearer ${this.token}`) throw new HttpError(401, 'Missing or invalid bearer token');
      const body = req.method === 'POST' ? await readJson(req, 8 << 20).catch(() => ({})) : {};
      const [status, result] = route.run(route.params, body);
      if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault?.malformed === 'json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"work": {"work_id"');
      }
      if (fault?.malformed === 'shape') return sendJson(res, 200, { work: 'soon', poll_interval_ms: 'fast' });
      sendJson(res, status, result);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      sendJson(res, status, { detail: (e as Error).message });
    }
  }

  #route(method: string, path: string): { name: BridgeRoute; params: string[]; run: Handler } | undefined {
    for (const [m, pattern, name, run] of this.#routes) {
      const match = m === method ? pattern.exec(path) : null;
      if (match) return { name, params: match.slice(1).map(decodeURIComponent), run };
    }
    return undefined;
  }

  readonly #routes: Array<[string, RegExp, BridgeRoute, Handler]> = [
    ['GET', /^\/v1\/environment_providers$/, 'providers.list', () => [200, { providers: PROVIDERS }]],
    ['POST', /^\/v1\/environment_providers\/cloud\/create$/, 'environments.create', (_p, b) => [201, this.#view(this.createEnvironment(String(b['provider'] ?? 'ainative'), meta(b)))]],
    ['POST', /^\/v1\/environments\/bridge$/, 'environments.create', (_p, b) => [201, this.#view(this.createEnvironment(String(b['provider'] ?? 'ainative'), meta(b)))]],
    ['DELETE', /^\/v1\/environments\/bridge\/([^/]+)$/, 'environments.delete', ([id]) => this.#delete(id!)],
    ['GET', /^\/v1\/environments\/([^/]+)\/work\/poll$/, 'work.poll', ([id]) => this.#poll(id!)],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/ack$/, 'work.ack', ([id], b) => this.#finish(id!, b, 'acknowledged')],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/stop$/, 'work.stop', ([id], b) => this.#finish(id!, b, 'stopped')],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/heartbeat$/, 'work.heartbeat', ([id]) => this.#heartbeat(id!)],
    ['POST', /^\/v1\/environments\/([^/]+)\/bridge\/reconnect$/, 'bridge.reconnect', ([id]) => this.#reconnect(id!)],
  ];

  #env(id: string, { mustBeConnected = false } = {}): BridgeEnvironment {
    const env = this.environments.get(id);
    if (!env || env.status === 'deleted') throw new HttpError(404, 'Environment not found');
    if (mustBeConnected && env.status === 'disconnected') throw new HttpError(409, 'environment disconnected');
    return env;
  }

  #view(env: BridgeEnvironment) {
    return { environment_id: env.environment_id, provider: env.provider, status: env.status, created_at: env.created_at, metadata: env.metadata };
  }

  #poll(id: string): [number, unknown] {
    const env = this.#env(id, { mustBeConnected: !this.quietDisconnect });
    env.polls++;
    if (env.status === 'disconnected') return [200, { environment_id: env.environment_id, work: null, poll_interval_ms: this.pollIntervalMs }];
    const handable = (w: BridgeWork) => w.state === 'pending' || (this.redeliverUnacked && w.state === 'in_flight');
    const next = [...this.work.values()].find((w) => w.environmentId === env.environment_id && handable(w));
    if (next) {
      next.state = 'in_flight';
      next.deliveries++;
    }
    const work = next ? { work_id: next.work_id, type: next.type, payload: next.payload, created_at: next.created_at } : null;
    return [200, { environment_id: env.environment_id, work, poll_interval_ms: this.pollIntervalMs }];
  }

  #finish(id: string, body: Record<string, unknown>, state: 'acknowledged' | 'stopped'): [number, unknown] {
    const env = this.#env(id);
    const work = this.work.get(String(body['work_id'] ?? ''));
    if (!work || work.environmentId !== env.environment_id) throw new HttpError(404, 'Work item not found');
    work.state = state;
    work.reports++;
    if (state === 'acknowledged') work.result = (body['result'] as Record<string, unknown> | undefined) ?? {};
    else work.stopReason = String(body['reason'] ?? '');
    return [200, { environment_id: env.environment_id, work_id: work.work_id, status: state }];
  }

  #heartbeat(id: string): [number, unknown] {
    const env = this.#env(id, { mustBeConnected: !this.quietDisconnect });
    if (env.status === 'disconnected') return [200, { environment_id: env.environment_id, status: 'disconnected', next_heartbeat_ms: this.heartbeatMs }];
    env.lastHeartbeatAt = Date.now();
    return [200, { environment_id: env.environment_id, status: 'alive', next_heartbeat_ms: this.heartbeatMs }];
  }

  #reconnect(id: string): [number, unknown] {
    const env = this.#env(id);
    env.status = 'active';
    env.lastHeartbeatAt = Date.now();
    env.reconnects++;
    return [200, { environment_id: env.environment_id, status: 'active', reconnected_at: new Date().toISOString() }];
  }

  #delete(id: string): [number, unknown] {
    const env = this.#env(id);
    env.status = 'deleted';
    for (const w of this.work.values()) if (w.environmentId === id && w.state === 'pending') this.work.delete(w.work_id);
    return [200, { environment_id: id, status: 'deleted' }];
  }

  /** No heartbeat within the window: the environment is disconnected until it reconnects. */
  #markInactive(): void {
    const now = Date.now();
    for (const env of this.environments.values()) {
      if (env.status === 'active' && now - env.lastHeartbeatAt > this.heartbeatMs) env.status = 'disconnected';
    }
  }
}

type Handler = (params: string[], body: Record<string, unknown>) => [number, unknown];

const PROVIDERS = [
  { provider_id: 'ainative', name: 'AINative Agent Cloud', region: 'us-east-1', available: true },
  { provider_id: 'byoc', name: 'Bring Your Own Compute', region: 'self-hosted', available: true },
];

function meta(body: Record<string, unknown>): Record<string, unknown> {
  const m = body['metadata'];
  return m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : {};
}
