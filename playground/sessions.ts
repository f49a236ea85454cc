import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, notFound, page } from './http.js';

/**
 * The session endpoints the SDK's SessionToolRunner uses (retrieve, event list,
 * SSE event stream, send events), driven by a scripted agent: a test declares the
 * tool calls a session makes, and reads back the tool results the runner sent.
 */

export interface ToolCall {
  name: string;
  input: Record<string, unknown>;
}

export interface SessionScript {
  /** The agent's tool calls, one at a time: each waits for the previous one's result. */
  calls: ToolCall[];
  /** After the last result: terminate the session (default), or go idle and wait for the runner's idle limit. */
  end?: 'terminate' | 'idle';
  /** Already terminated when its work item is claimed. */
  terminated?: boolean;
  /** End the live event stream once after this many events were sent on it (the runner must reconnect). */
  dropStreamAfter?: number;
}

export interface ToolResult {
  toolUseId: string;
  name: string;
  isError: boolean;
  text: string;
  at: number;
}

interface SessionEvent {
  id: string;
  type: string;
  processed_at: string;
  [key: string]: unknown;
}

interface SessionRecord {
  session: Record<string, unknown> & { id: string; status: string };
  events: SessionEvent[];
  results: ToolResult[];
  streams: Set<ServerResponse>;
  script: SessionScript;
  nextCall: number;
  pendingToolUse: { id: string; name: string } | undefined;
  streamDrops: number;
}

export class SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();

  create(environmentId: string, script: SessionScript): string {
    const id = `sesn_${randomBytes(12).toString('hex')}`;
    const now = new Date().toISOString();
    const session = {
      id,
      type: 'session',
      status: script.terminated ? 'terminated' : 'running',
      environment_id: environmentId,
      title: null,
      metadata: {},
      created_at: now,
      updated_at: now,
      archived_at: null,
      budget: null,
      outcome_evaluations: [],
      resources: [],
      vault_ids: [],
      stats: {},
      usage: {},
      agent: {
        id: 'agent_playground',
        type: 'agent',
        name: 'playground agent',
        description: null,
        model: { id: 'claude-playground' },
        system: null,
        skills: [],
        tools: [],
        mcp_servers: [],
        multiagent: null,
        version: 1,
      },
    };
    const rec: SessionRecord = {
      session,
      events: [],
      results: [],
      streams: new Set(),
      script,
      nextCall: 0,
      pendingToolUse: undefined,
      streamDrops: 0,
    };
    this.#sessions.set(id, rec);
    if (script.terminated) this.#emit(rec, { type: 'session.status_terminated' });
    else {
      this.#emit(rec, { type: 'session.status_running' });
      this.#advance(rec);
    }
    return id;
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  results(id: string): ToolResult[] {
    return this.#record(id).results;
  }

  status(id: string): string {
    return this.#record(id).session.status;
  }

  /** Every event the session has, in order. */
  events(id: string): SessionEvent[] {
    return this.#record(id).events;
  }

  /** Live stream connections opened so far, counted by the drops and reconnects a test sees. */
  streamDrops(id: string): number {
    return this.#record(id).streamDrops;
  }

  retrieve(id: string): Record<string, unknown> {
    return this.#record(id).session;
  }

  list(id: string, url: URL) {
    return page(this.#record(id).events, url, 100, 1000);
  }

  send(id: string, body: Record<string, unknown>): { data: SessionEvent[] } {
    const rec = this.#record(id);
    const events = body['events'];
    if (!Array.isArray(events) || events.length === 0) throw badRequest('events: must be a non-empty array');
    const accepted: SessionEvent[] = [];
    for (const raw of events as Array<Record<string, unknown>>) {
      if (raw['type'] !== 'user.tool_result' && raw['type'] !== 'user.custom_tool_result' && raw['type'] !== 'user.message') {
        throw badRequest(`events[].type: ${String(raw['type'])} is not accepted here`);
      }
      if (rec.session.status === 'terminated') throw new ApiError(409, 'invalid_request_error', `session ${id} is terminated`);
      accepted.push(this.#emit(rec, raw));
      if (raw['type'] === 'user.tool_result') this.#onToolResult(rec, raw);
    }
    return { data: accepted };
  }

  /** SSE: every frame carries an `event:` line; new events are pushed as they happen. */
  stream(id: string, req: IncomingMessage, res: ServerResponse): void {
    const rec = this.#record(id);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': stream open\n\n');
    (res as ServerResponse & { sent?: number }).sent = 0;
    rec.streams.add(res);
    req.on('close', () => rec.streams.delete(res));
  }

  #onToolResult(rec: SessionRecord, raw: Record<string, unknown>): void {
    const pending = rec.pendingToolUse;
    if (!pending || raw['tool_use_id'] !== pending.id) return;
    const content = Array.isArray(raw['content']) ? (raw['content'] as Array<{ type?: string; text?: string }>) : [];
    rec.results.push({
      toolUseId: pending.id,
      name: pending.name,
      isError: raw['is_error'] === true,
      text: content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join(''),
      at: Date.now(),
    });
    rec.pendingToolUse = undefined;
    // The agent "thinks" a moment before its next move, as a model would.
    setTimeout(() => this.#advance(rec), 20);
  }

  #advance(rec: SessionRecord): void {
    const call = rec.script.calls[rec.nextCall];
    if (call) {
      rec.nextCall++;
      const ev = this.#emit(rec, { type: 'agent.tool_use', name: call.name, input: call.input });
      rec.pendingToolUse = { id: ev.id, name: call.name };
      return;
    }
    this.#emit(rec, { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null });
    rec.session.status = 'idle';
    if ((rec.script.end ?? 'terminate') === 'terminate') this.terminate(rec.session.id);
  }

  terminate(id: string): void {
    const rec = this.#record(id);
    if (rec.session.status === 'terminated') return;
    rec.session.status = 'terminated';
    this.#emit(rec, { type: 'session.status_terminated' });
  }

  #emit(rec: SessionRecord, fields: Record<string, unknown>): SessionEvent {
    const ev = { ...fields, id: `sevt_${randomBytes(10).toString('hex')}`, processed_at: new Date().toISOString() } as SessionEvent;
    rec.events.push(ev);
    for (const res of [...rec.streams]) {
      res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
      const counted = res as ServerResponse & { sent?: number };
      counted.sent = (counted.sent ?? 0) + 1;
      if (rec.script.dropStreamAfter !== undefined && rec.streamDrops === 0 && counted.sent >= rec.script.dropStreamAfter) {
        rec.streamDrops++;
        rec.streams.delete(res);
        res.destroy();
      }
    }
    return ev;
  }

  #record(id: string): SessionRecord {
    const rec = this.#sessions.get(id);
    if (!rec) throw notFound(`session ${id}`);
    return rec;
  }
}
