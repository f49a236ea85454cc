import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, badRequest, credentialOf, notFound, page, readJson, sendError, sendJson, unauthorized } from './http.js';
import { SessionStore, type SessionScript } from './sessions.js';
import { answerHuge, answerSlowly, Faults, type FaultRule as GenericFaultRule } from './faults.js';

/**
 * A local stand-in for Anthropic's environments and work API (seed 001), faithful
 * enough that the official SDK talks to it unchanged: cursor pages, the documented
 * errors, leases with a TTL and optimistic concurrency (412 on a stale
 * expected_last_heartbeat), reclaim of unacknowledged items, and knobs for faults.
 * Tests and the demo use it; nothing here is Outpost code.
 */

export type WorkState = 'queued' | 'starting' | 'active' | 'stopping' | 'stopped';

export interface Environment {
  id: string;
  type: 'environment';
  name: string;
  description: string;
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  scope: 'organization' | 'account';
}

export interface WorkItem {
  id: string;
  type: 'work';
  environment_id: string;
  /** 'session' or 'healthcheck'; a test of a newer (or hostile) control plane may queue another type. */
  data: { type: string; id: string };
  state: WorkState;
  metadata: Record<string, string>;
  created_at: string;
  acknowledged_at: string | null;
  started_at: string | null;
  latest_heartbeat_at: string | null;
  stop_requested_at: string | null;
  stopped_at: string | null;
}

/** What the playground knows of an item beyond the API's view: for tests' ledgers. */
export interface WorkRecord {
  item: WorkItem;
  lastHeartbeat: string | null;
  leaseExpiresAt: number | null;
  ttlSeconds: number;
  polledAt: number | null;
  polledBy: string | null;
  /** Every worker id that was handed this item by a poll. */
  deliveries: string[];
  sessionsToken: string;
  heartbeats: number;
  stops: Array<{ force: boolean; at: number }>;
  history: WorkState[];
  /** Hostile: every poll answer for this item says it belongs to this environment instead. */
  answersAs?: string;
}

export type RouteName =
  | 'environments.create'
  | 'environments.list'
  | 'environments.retrieve'
  | 'environments.update'
  | 'environments.delete'
  | 'environments.archive'
  | 'work.poll'
  | 'work.ack'
  | 'work.heartbeat'
  | 'work.stop'
  | 'work.stats'
  | 'work.list'
  | 'work.retrieve'
  | 'work.update'
  | 'sessions.retrieve'
  | 'sessions.events.list'
  | 'sessions.events.send'
  | 'sessions.events.stream';

export type FaultRule = GenericFaultRule<RouteName> & {
  /** On a poll: the answer says it belongs to this environment (a control plane that routes work to the wrong queue). */
  environmentId?: string;
};

type Credential = { kind: 'api-key' } | { kind: 'environment-key'; environmentId: string } | { kind: 'item-token'; workId: string };

export interface PlaygroundOptions {
  apiKey?: string;
  /** Lease TTL for heartbeats that do not ask for one. */
  leaseTtlSeconds?: number;
  port?: number;
  /**
   * A careless (or hostile) control plane: every 401 quotes the credential it was sent — the
   * Authorization header as it came, and the credential URL-encoded and base64-encoded — so a
   * test proves none of it is printed or shown.
   */
  echoCredentials?: boolean;
  /** Keep every request's route, path and arrival time in `arrivals` (benchmarks: where a session's time goes). */
  recordArrivals?: boolean;
}

const DEFAULT_RECLAIM_MS = 5_000;
const ANTHROPIC_VERSION_REQUIRED = true;

export class AnthropicPlayground {
  readonly apiKey: string;
  readonly leaseTtlSeconds: number;
  readonly environments = new Map<string, Environment>();
  readonly work = new Map<string, WorkRecord>();
  /** Requests seen per route, faults included. */
  readonly requests: Partial<Record<RouteName, number>> = {};
  /** Which kind of credential each request carried: proves the worker never sends the API key. */
  readonly credentialsSeen: Array<{ route: RouteName; kind: Credential['kind'] }> = [];
  readonly sessions = new SessionStore();
  /** With recordArrivals: every request as it arrived (before faults and authentication). */
  readonly arrivals: Array<{ route: RouteName; path: string; at: number }> = [];
  readonly #recordArrivals: boolean;
  readonly #environmentKeys = new Map<string, string>();
  readonly #faults = new Faults<RouteName, FaultRule>();
  readonly #pollers = new Map<string, Map<string, number>>();
  readonly #waiters = new Set<() => void>();
  readonly #server: Server;
  readonly #port: number;
  readonly #echoCredentials: boolean;
  #sweeper: NodeJS.Timeout | undefined;
  #lastStamp = 0;
  url = '';

  constructor(opts: PlaygroundOptions = {}) {
    this.apiKey = opts.apiKey ?? `sk-ant-api03-playground-${randomBytes(12).toString('hex')}`;
    this.leaseTtlSeconds = opts.leaseTtlSeconds ?? 30;
    this.#port = opts.port ?? 0;
    this.#echoCredentials = opts.echoCredentials ?? false;
    this.#recordArrivals = opts.recordArrivals ?? false;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Listens on 127.0.0.1 only. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(this.#port, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.#sweeper = setInterval(() => this.#expireLeases(), 100);
    return this.url;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- what a test or the demo does directly ----

  createEnvironment(name: string, config: Record<string, unknown> = { type: 'self_hosted' }): { environment: Environment; environmentKey: string } {
    const environment = this.#newEnvironment({ name, config });
    return { environment, environmentKey: this.issueEnvironmentKey(environment.id) };
  }

  issueEnvironmentKey(environmentId: string): string {
    const key = `sk-ant-env-${randomBytes(16).toString('hex')}`;
    this.#environmentKeys.set(key, environmentId);
    return key;
  }

  /**
   * Queue a work item, as creating a session does; `workId` chooses its id (a test of a hostile control plane may
   * choose `..`), `answersAs` makes every poll answer for it claim another environment.
   */
  enqueue(environmentId: string, opts: { sessionId?: string; type?: string; workId?: string; answersAs?: string } = {}): WorkItem {
    if (!this.environments.has(environmentId)) throw new Error(`no environment ${environmentId}`);
    const type = opts.type ?? 'session';
    const item: WorkItem = {
      id: opts.workId ?? newId('work'),
      type: 'work',
      environment_id: environmentId,
      data: { type, id: opts.sessionId ?? newId(type === 'session' ? 'sesn' : 'hc') },
      state: 'queued',
      metadata: {},
      created_at: this.#stamp(),
      acknowledged_at: null,
      started_at: null,
      latest_heartbeat_at: null,
      stop_requested_at: null,
      stopped_at: null,
    };
    this.work.set(item.id, {
      item,
      lastHeartbeat: null,
      leaseExpiresAt: null,
      ttlSeconds: this.leaseTtlSeconds,
      polledAt: null,
      polledBy: null,
      deliveries: [],
      sessionsToken: `sk-ant-req-${randomBytes(16).toString('hex')}`,
      heartbeats: 0,
      stops: [],
      history: ['queued'],
      ...(opts.answersAs ? { answersAs: opts.answersAs } : {}),
    });
    this.#notify();
    return item;
  }

  /** A session driven by `script`, and the work item that asks a worker to serve it. */
  createSession(environmentId: string, script: SessionScript): { sessionId: string; work: WorkItem } {
    const sessionId = this.sessions.create(environmentId, script);
    return { sessionId, work: this.enqueue(environmentId, { sessionId }) };
  }

  /** As if the user stopped the session from the console: the next heartbeat says `stopping`. */
  requestStop(workId: string): void {
    const rec = this.#record(workId);
    if (rec.item.state === 'stopped') return;
    rec.item.stop_requested_at = this.#stamp();
    this.#transition(rec, 'stopping');
  }

  /** As if another worker took the lease: our next heartbeat gets a 412. */
  stealLease(workId: string): void {
    const rec = this.#record(workId);
    rec.lastHeartbeat = this.#stamp();
    rec.item.latest_heartbeat_at = rec.lastHeartbeat;
  }

  addFault(rule: FaultRule): void {
    this.#faults.add(rule);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  record(workId: string): WorkRecord {
    return this.#record(workId);
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://playground');
    try {
      if (url.pathname.startsWith('/_playground/')) return await this.#admin(req, res, url);
      const route = this.#route(req.method ?? 'GET', url.pathname);
      if (!route) throw notFound(`route ${req.method} ${url.pathname}`);
      this.requests[route.name] = (this.requests[route.name] ?? 0) + 1;
      if (this.#recordArrivals) this.arrivals.push({ route: route.name, path: url.pathname, at: Date.now() });
      const fault = this.#faults.take(route.name);
      if (fault?.hang) return; // the socket stays open until the client aborts
      if (fault?.trickle) return answerSlowly(res, fault.trickleMs);
      if (fault?.hugeBytes) return answerHuge(res, fault.hugeBytes);
      if (fault?.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
      if (fault?.status) {
        const echoed = fault.status === 401 ? this.#echo(req) : '';
        throw new ApiError(fault.status, fault.status === 429 ? 'rate_limit_error' : 'api_error', `injected fault (${fault.status})${echoed}`);
      }
      if (ANTHROPIC_VERSION_REQUIRED && !req.headers['anthropic-version']) throw badRequest('anthropic-version: header is required');
      const credential = this.#authenticate(req);
      this.credentialsSeen.push({ route: route.name, kind: credential.kind });
      const body = req.method === 'POST' ? await readJson(req) : {};
      let result = await route.run({ credential, url, body, req, res, params: route.params });
      if (result === STREAMING) return;
      if (fault?.environmentId && result && typeof result === 'object') result = { ...result, environment_id: fault.environmentId };
      if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault?.malformed === 'json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "work_tru');
        return;
      }
      if (fault?.malformed === 'shape') return sendJson(res, 200, { id: 42, data: 'not a work item' });
      sendJson(res, 200, result);
    } catch (e) {
      if (e instanceof ApiError) return sendError(res, e);
      sendError(res, new ApiError(500, 'api_error', (e as Error).message));
    }
  }

  #authenticate(req: IncomingMessage): Credential {
    const presented = credentialOf(req);
    if (!presented) throw unauthorized('x-api-key header is required');
    // Seed 001 documents x-api-key; SDK 1.x sends the API key as a bearer token. Accept both.
    if (presented === this.apiKey) return { kind: 'api-key' };
    const environmentId = this.#environmentKeys.get(presented);
    if (environmentId) return { kind: 'environment-key', environmentId };
    for (const rec of this.work.values()) {
      if (rec.sessionsToken === presented) return { kind: 'item-token', workId: rec.item.id };
    }
    throw unauthorized(`invalid x-api-key${this.#echo(req)}`);
  }

  /** What `echoCredentials` adds to a 401's message. */
  #echo(req: IncomingMessage): string {
    const presented = credentialOf(req);
    if (!this.#echoCredentials || !presented) return '';
    const auth = req.headers['authorization'] ?? `x-api-key: ${presented}`;
    return `: you sent ${JSON.stringify(auth)} (url-encoded ${encodeURIComponent(presented)}, base64 ${Buffer.from(presented).toString('base64')})`;
  }

  #route(method: string, path: string): { name: RouteName; params: string[]; run: Handler } | undefined {
    for (const [m, pattern, name, run] of this.#routes) {
      if (m !== method) continue;
      const match = pattern.exec(path);
      if (match) return { name, params: match.slice(1).map(decodeURIComponent), run };
    }
    return undefined;
  }

  readonly #routes: Array<[string, RegExp, RouteName, Handler]> = [
    ['GET', /^\/v1\/sessions\/([^/]+)$/, 'sessions.retrieve', (c) => this.sessions.retrieve(this.#sessionFor(c))],
    ['GET', /^\/v1\/sessions\/([^/]+)\/events$/, 'sessions.events.list', (c) => this.sessions.list(this.#sessionFor(c), c.url)],
    ['POST', /^\/v1\/sessions\/([^/]+)\/events$/, 'sessions.events.send', (c) => this.sessions.send(this.#sessionFor(c), c.body)],
    [
      'GET',
      /^\/v1\/sessions\/([^/]+)\/events\/stream$/,
      'sessions.events.stream',
      (c) => {
        this.sessions.stream(this.#sessionFor(c), c.req, c.res);
        return STREAMING;
      },
    ],
    ['POST', /^\/v1\/environments$/, 'environments.create', (c) => this.#createEnvironment(c)],
    ['GET', /^\/v1\/environments$/, 'environments.list', (c) => this.#listEnvironments(c)],
    ['GET', /^\/v1\/environments\/([^/]+)\/work\/poll$/, 'work.poll', (c) => this.#poll(c)],
    ['GET', /^\/v1\/environments\/([^/]+)\/work\/stats$/, 'work.stats', (c) => this.#stats(c)],
    ['GET', /^\/v1\/environments\/([^/]+)\/work$/, 'work.list', (c) => this.#listWork(c)],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/([^/]+)\/ack$/, 'work.ack', (c) => this.#ack(c)],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/([^/]+)\/heartbeat$/, 'work.heartbeat', (c) => this.#heartbeat(c)],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/([^/]+)\/stop$/, 'work.stop', (c) => this.#stop(c)],
    ['GET', /^\/v1\/environments\/([^/]+)\/work\/([^/]+)$/, 'work.retrieve', (c) => this.#retrieveWork(c)],
    ['POST', /^\/v1\/environments\/([^/]+)\/work\/([^/]+)$/, 'work.update', (c) => this.#updateWork(c)],
    ['POST', /^\/v1\/environments\/([^/]+)\/archive$/, 'environments.archive', (c) => this.#archive(c)],
    ['GET', /^\/v1\/environments\/([^/]+)$/, 'environments.retrieve', (c) => this.#environmentFor(c, 'api-key')],
    ['POST', /^\/v1\/environments\/([^/]+)$/, 'environments.update', (c) => this.#updateEnvironment(c)],
    ['DELETE', /^\/v1\/environments\/([^/]+)$/, 'environments.delete', (c) => this.#deleteEnvironment(c)],
  ];

  // ---- sessions ----

  /** The session a request may touch: the API key, its item's sessions token, or its environment's key. */
  #sessionFor(c: Ctx): string {
    const id = c.params[0] ?? '';
    if (!this.sessions.has(id)) throw notFound(`session ${id}`);
    const cred = c.credential;
    const allowed =
      cred.kind === 'api-key' ||
      (cred.kind === 'item-token' && this.work.get(cred.workId)?.item.data.id === id) ||
      (cred.kind === 'environment-key' && this.sessions.retrieve(id)['environment_id'] === cred.environmentId);
    if (!allowed) throw new ApiError(403, 'permission_error', 'this credential cannot access this session');
    return id;
  }

  // ---- environments ----

  #requireApiKey(c: Ctx): void {
    if (c.credential.kind !== 'api-key') throw new ApiError(403, 'permission_error', 'this endpoint requires an API key');
  }

  #newEnvironment(body: Record<string, unknown>): Environment {
    if (typeof body['name'] !== 'string' || !body['name']) throw badRequest('name: field required');
    const config = (body['config'] as Record<string, unknown> | undefined) ?? { type: 'cloud', networking: { type: 'unrestricted' }, packages: {} };
    if (config['type'] !== 'cloud' && config['type'] !== 'self_hosted') throw badRequest('config.type: must be "cloud" or "self_hosted"');
    const now = this.#stamp();
    const env: Environment = {
      id: newId('env'),
      type: 'environment',
      name: body['name'],
      description: typeof body['description'] === 'string' ? body['description'] : '',
      config,
      metadata: (body['metadata'] as Record<string, string> | undefined) ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
      scope: 'organization',
    };
    this.environments.set(env.id, env);
    return env;
  }

  #createEnvironment(c: Ctx): Environment {
    this.#requireApiKey(c);
    return this.#newEnvironment(c.body);
  }

  #listEnvironments(c: Ctx) {
    this.#requireApiKey(c);
    const includeArchived = c.url.searchParams.get('include_archived') === 'true';
    const all = [...this.environments.values()].filter((e) => includeArchived || !e.archived_at).reverse();
    return page(all, c.url);
  }

  #environmentFor(c: Ctx, needs: 'api-key' | 'environment'): Environment {
    const env = this.environments.get(c.params[0] ?? '');
    if (needs === 'api-key') this.#requireApiKey(c);
    else if (c.credential.kind === 'environment-key' && c.credential.environmentId !== c.params[0]) {
      throw new ApiError(403, 'permission_error', 'this environment key belongs to another environment');
    }
    if (!env) throw notFound(`environment ${c.params[0]}`);
    return env;
  }

  #updateEnvironment(c: Ctx): Environment {
    const env = this.#environmentFor(c, 'api-key');
    if (typeof c.body['name'] === 'string') env.name = c.body['name'];
    if (typeof c.body['description'] === 'string') env.description = c.body['description'];
    if (c.body['metadata'] && typeof c.body['metadata'] === 'object') env.metadata = { ...env.metadata, ...(c.body['metadata'] as Record<string, string>) };
    env.updated_at = this.#stamp();
    return env;
  }

  #deleteEnvironment(c: Ctx) {
    const env = this.#environmentFor(c, 'api-key');
    this.environments.delete(env.id);
    return { id: env.id, type: 'environment_deleted' };
  }

  #archive(c: Ctx): Environment {
    const env = this.#environmentFor(c, 'api-key');
    env.archived_at ??= this.#stamp();
    return env;
  }

  // ---- work ----

  async #poll(c: Ctx) {
    const env = this.#environmentFor(c, 'environment');
    if (c.credential.kind === 'item-token') throw new ApiError(403, 'permission_error', 'poll needs the environment key');
    const blockParam = c.url.searchParams.get('block_ms');
    const blockMs = blockParam === null ? 0 : Number(blockParam);
    if (blockParam !== null && (!Number.isInteger(blockMs) || blockMs < 1 || blockMs > 999)) {
      throw badRequest('block_ms: must be 1-999');
    }
    const reclaimParam = c.url.searchParams.get('reclaim_older_than_ms');
    const reclaimMs = reclaimParam === null ? DEFAULT_RECLAIM_MS : Number(reclaimParam);
    const workerId = String(c.req.headers['anthropic-worker-id'] ?? '');
    if (workerId) {
      const pollers = this.#pollers.get(env.id) ?? new Map<string, number>();
      pollers.set(workerId, Date.now());
      this.#pollers.set(env.id, pollers);
    }
    const deadline = Date.now() + blockMs;
    for (;;) {
      const rec = this.#nextClaimable(env.id, reclaimMs);
      if (rec) {
        rec.polledAt = Date.now();
        rec.polledBy = workerId || null;
        rec.deliveries.push(workerId);
        const secret = Buffer.from(JSON.stringify({ sessions_token: rec.sessionsToken, api_base_url: this.url })).toString('base64url');
        return { ...rec.item, environment_id: rec.answersAs ?? rec.item.environment_id, secret };
      }
      const left = deadline - Date.now();
      if (left <= 0 || c.req.destroyed) return null;
      await this.#waitForWork(left);
    }
  }

  #nextClaimable(environmentId: string, reclaimMs: number): WorkRecord | undefined {
    const now = Date.now();
    for (const rec of this.work.values()) {
      if (rec.item.environment_id !== environmentId || rec.item.state !== 'queued') continue;
      if (rec.polledAt === null || now - rec.polledAt >= reclaimMs) return rec;
    }
    return undefined;
  }

  #workFor(c: Ctx): WorkRecord {
    const [environmentId, workId] = c.params;
    const rec = this.work.get(workId ?? '');
    if (!rec || rec.item.environment_id !== environmentId) throw notFound(`work ${workId}`);
    const cred = c.credential;
    if (cred.kind === 'environment-key' && cred.environmentId !== environmentId) {
      throw new ApiError(403, 'permission_error', 'this environment key belongs to another environment');
    }
    if (cred.kind === 'item-token' && cred.workId !== rec.item.id) {
      throw new ApiError(403, 'permission_error', 'this token belongs to another work item');
    }
    return rec;
  }

  #ack(c: Ctx): WorkItem {
    const rec = this.#workFor(c);
    if (rec.item.state !== 'queued') throw new ApiError(409, 'invalid_request_error', `work ${rec.item.id} is ${rec.item.state}, not queued`);
    rec.item.acknowledged_at = this.#stamp();
    // An acked item holds a lease from the start: a worker that dies before its first beat frees it after the TTL.
    rec.leaseExpiresAt = Date.now() + rec.ttlSeconds * 1000;
    this.#transition(rec, 'starting');
    return rec.item;
  }

  #heartbeat(c: Ctx) {
    const rec = this.#workFor(c);
    const expected = c.url.searchParams.get('expected_last_heartbeat');
    const desired = c.url.searchParams.get('desired_ttl_seconds');
    const lease = () => ({
      last_heartbeat: rec.lastHeartbeat,
      lease_extended: false,
      state: rec.item.state,
      ttl_seconds: rec.ttlSeconds,
    });
    if (rec.item.state === 'queued') throw new ApiError(409, 'invalid_request_error', `work ${rec.item.id} has not been acknowledged`);
    if (rec.item.state === 'stopped') {
      return { type: 'work_heartbeat', last_heartbeat: rec.lastHeartbeat ?? '', lease_extended: false, state: 'stopped', ttl_seconds: 0 };
    }
    if (expected !== null && expected !== (rec.lastHeartbeat ?? 'NO_HEARTBEAT')) {
      throw new ApiError(412, 'invalid_request_error', 'expected_last_heartbeat does not match the stored heartbeat', {
        details: { error_code: 'heartbeat_precondition_failed', current_state: lease() },
      });
    }
    if (desired !== null) {
      const ttl = Number(desired);
      if (!Number.isFinite(ttl) || ttl <= 0) throw badRequest('desired_ttl_seconds: must be a positive number');
      rec.ttlSeconds = Math.min(ttl, 300);
    }
    rec.lastHeartbeat = this.#stamp();
    rec.item.latest_heartbeat_at = rec.lastHeartbeat;
    rec.leaseExpiresAt = Date.now() + rec.ttlSeconds * 1000;
    rec.heartbeats++;
    if (rec.item.state === 'starting') {
      rec.item.started_at = rec.lastHeartbeat;
      this.#transition(rec, 'active');
    }
    return { type: 'work_heartbeat', last_heartbeat: rec.lastHeartbeat, lease_extended: true, state: rec.item.state, ttl_seconds: rec.ttlSeconds };
  }

  #stop(c: Ctx): WorkItem {
    const rec = this.#workFor(c);
    if (rec.item.state === 'stopped') throw new ApiError(409, 'invalid_request_error', `work ${rec.item.id} is already stopped`);
    const force = c.body['force'] === true;
    rec.stops.push({ force, at: Date.now() });
    rec.item.stop_requested_at ??= this.#stamp();
    if (force || rec.item.state === 'queued' || rec.item.state === 'starting') {
      rec.item.stopped_at = this.#stamp();
      rec.leaseExpiresAt = null;
      this.#transition(rec, 'stopped');
    } else {
      this.#transition(rec, 'stopping');
    }
    return rec.item;
  }

  #stats(c: Ctx) {
    const env = this.#environmentFor(c, 'environment');
    const queued = [...this.work.values()].filter((r) => r.item.environment_id === env.id && r.item.state === 'queued');
    const now = Date.now();
    const pending = queued.filter((r) => r.polledAt !== null && now - r.polledAt < DEFAULT_RECLAIM_MS).length;
    const pollers = [...(this.#pollers.get(env.id)?.values() ?? [])].filter((t) => now - t < 30_000).length;
    return {
      type: 'work_queue_stats',
      depth: queued.length - pending,
      pending,
      oldest_queued_at: queued[0]?.item.created_at ?? null,
      workers_polling: pollers,
    };
  }

  #listWork(c: Ctx) {
    const env = this.#environmentFor(c, 'environment');
    const items = [...this.work.values()].filter((r) => r.item.environment_id === env.id).map((r) => r.item).reverse();
    return page(items, c.url);
  }

  #retrieveWork(c: Ctx): WorkItem {
    this.#requireApiKey(c);
    return this.#workFor(c).item;
  }

  #updateWork(c: Ctx): WorkItem {
    this.#requireApiKey(c);
    const rec = this.#workFor(c);
    const patch = c.body['metadata'];
    if (!patch || typeof patch !== 'object') throw badRequest('metadata: field required');
    for (const [k, v] of Object.entries(patch as Record<string, string | null>)) {
      if (v === null) delete rec.item.metadata[k];
      else rec.item.metadata[k] = String(v);
    }
    return rec.item;
  }

  // ---- lease rules ----

  /** A lease not renewed within its TTL frees the item: back to the queue for the next poll. */
  #expireLeases(): void {
    const now = Date.now();
    for (const rec of this.work.values()) {
      const s = rec.item.state;
      if ((s === 'starting' || s === 'active' || s === 'stopping') && rec.leaseExpiresAt !== null && rec.leaseExpiresAt < now) {
        if (s === 'stopping') {
          rec.item.stopped_at = this.#stamp();
          this.#transition(rec, 'stopped');
        } else {
          rec.lastHeartbeat = null;
          rec.polledAt = null;
          rec.item.acknowledged_at = null;
          this.#transition(rec, 'queued');
          this.#notify();
        }
        rec.leaseExpiresAt = null;
      }
    }
  }

  #transition(rec: WorkRecord, state: WorkState): void {
    rec.item.state = state;
    rec.history.push(state);
  }

  #record(workId: string): WorkRecord {
    const rec = this.work.get(workId);
    if (!rec) throw new Error(`no work ${workId}`);
    return rec;
  }

  #waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** RFC 3339 with milliseconds, strictly increasing, so every heartbeat value is distinct. */
  #stamp(): string {
    const now = Math.max(Date.now(), this.#lastStamp + 1);
    this.#lastStamp = now;
    return new Date(now).toISOString();
  }

  // ---- admin (playground only, for the demo and scripts) ----

  async #admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = req.method === 'POST' ? await readJson(req) : {};
    if (req.method === 'POST' && url.pathname === '/_playground/work') {
      const environmentId = String(body['environment_id'] ?? '');
      return sendJson(res, 200, this.enqueue(environmentId, { type: body['type'] === 'healthcheck' ? 'healthcheck' : 'session' }));
    }
    if (req.method === 'GET' && url.pathname === '/_playground/work') {
      return sendJson(res, 200, [...this.work.values()].map((r) => ({ ...r.item, history: r.history, heartbeats: r.heartbeats })));
    }
    if (req.method === 'POST' && url.pathname === '/_playground/faults') {
      this.addFault(body as unknown as FaultRule);
      return sendJson(res, 200, { ok: true });
    }
    throw notFound(`route ${req.method} ${url.pathname}`);
  }
}

const STREAMING = Symbol('the handler answers on its own (SSE)');

interface Ctx {
  credential: Credential;
  url: URL;
  body: Record<string, unknown>;
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
}
type Handler = (c: Ctx) => unknown;

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
