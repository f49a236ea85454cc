/**
 * The session runner: the entrypoint of Outpost's session image. Serves one session
 * with the official SDK — SessionToolRunner and the agent toolset — against /workspace.
 *
 * It reads the item's ids, its sessions token and the API base URL (the ANTHROPIC_* names) from
 * its environment — or, when they are absent, from one frame (electron/core/runtime/handover-frame.ts)
 * that Outpost's keeper (session/keeper.sh, the image's entrypoint) passes on from the container's
 * stdin on descriptor OUTPOST_HANDOVER_FD: a warm container is started before any item is claimed,
 * holding no credential, and is handed its item there; a cold one gets it there too, as it starts.
 * The token then never appears in the container's environment or `docker inspect`. Ending the
 * session when Outpost dies is the keeper's: this process shares the session's uid, so nothing it
 * watches is out of the session's reach. The toolset strips ANTHROPIC_* from the bash tool's
 * environment either way. The host owns the lease: this process never heartbeats (two heartbeaters
 * race into 412s, DESIGN §1.4).
 * Its output is the session's log: one line per tool call and the events worth reading.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { betaAgentToolset20260401, setupSkills } from '@anthropic-ai/sdk/tools/agent-toolset/node';
// One frame for both ends: what Outpost hands over is what this runner accepts (bundled in by esbuild).
import { HandoverReader, type Handover } from '../electron/core/runtime/handover-frame.js';

const WORKDIR = process.env['OUTPOST_WORKDIR'] ?? '/workspace';

/**
 * Wait (booted, SDK loaded) for the item's frame: on the descriptor the keeper names (a pipe from it),
 * or on stdin when this runner was started without one (by hand).
 */
function readHandover(): Promise<Handover> {
  const fd = Number(process.env['OUTPOST_HANDOVER_FD'] ?? 0);
  delete process.env['OUTPOST_HANDOVER_FD'];
  const input = fd === 0 ? process.stdin : new Socket({ fd, readable: true, writable: false });
  const reader = new HandoverReader();
  return new Promise((resolve, reject) => {
    const done = (error?: Error, handover?: Handover) => {
      input.off('data', onData).off('end', onEnd);
      // Whatever comes after the frame is nobody's; the pipe is drained, not closed, so that the keeper's feeder never fails on it.
      input.on('data', () => {}).on('error', () => {});
      input.unref?.();
      if (error) reject(error);
      else resolve(handover!);
    };
    const onData = (chunk: Buffer) => {
      try {
        const handover = reader.push(chunk);
        if (handover) done(undefined, handover);
      } catch (e) {
        done(e as Error);
      }
    };
    const onEnd = () => done(reader.end());
    input.on('data', onData).on('end', onEnd);
  });
}

/**
 * While it waits, a warm runner rehearses: it serves a made-up session through the same code as a
 * real one — Node's fetch over a real socket, the SDK's retrieve, event stream (SSE), history, one
 * bash call and its result — against a stand-in on its own loopback (127.0.0.1, an ephemeral port,
 * open for the rehearsal only), and prints nothing. A fresh Node pays for every first time (fetch
 * and its HTTP parser load on first use, the first spawn, the SDK's paths run unoptimised): a cold
 * runner pays after its item arrives, a warm one here, before any item exists.
 */
/**
 * A loopback address the rehearsal reaches directly, never through the session's egress proxy: one
 * NO_PROXY names. Under `api` and `allowlist` the API's own host is left out of it (the runner reaches
 * a control plane on the user's machine through the proxy), and a rehearsal sent there would show in
 * the session's log as a connection the user never caused.
 */
function rehearsalHost(): string {
  const direct = (process.env['NO_PROXY'] ?? process.env['no_proxy'])?.split(',').map((n) => n.trim());
  if (!direct) return '127.0.0.1';
  return ['127.0.0.1', '::1'].find((address) => direct.includes(address)) ?? '127.0.0.1';
}

async function rehearse(signal: AbortSignal): Promise<void> {
  const sessionId = 'sesn_warm_up';
  const toolUse = { type: 'agent.tool_use', id: 'sevt_warm_up_1', name: 'bash', input: { command: ':' }, processed_at: new Date().toISOString() };
  const terminated = { type: 'session.status_terminated', id: 'sevt_warm_up_2', processed_at: new Date().toISOString() };
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path.endsWith('/events/stream')) {
      stream = res.writeHead(200, { 'content-type': 'text/event-stream' });
      stream.write(': open\n\n');
    } else if (path.endsWith('/events') && req.method === 'POST') {
      // The result is in: the made-up session ends.
      json({ data: [] });
      stream?.end(`event: ${terminated.type}\ndata: ${JSON.stringify(terminated)}\n\n`);
    } else if (path.endsWith('/events')) json({ data: [toolUse], next_page: null });
    else json({ id: sessionId, type: 'session', status: 'idle' });
  });
  try {
    const host = rehearsalHost();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
    const { port } = server.address() as AddressInfo;
    const client = new Anthropic({ baseURL: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, apiKey: null, authToken: 'warm-up', logLevel: 'off', maxRetries: 0 });
    const session = await client.beta.sessions.retrieve(sessionId, {}, { signal });
    const tools = betaAgentToolset20260401({ workdir: WORKDIR, client, session });
    for await (const call of client.beta.sessions.events.toolRunner(sessionId, { tools, signal })) void call;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** A warm container's item, once handed over; meanwhile the rehearsal runs (cut short if the item comes first). */
async function warmThenHandover(): Promise<Handover> {
  // A cold start's line is already waiting when this reads it: the rehearsal is cut short as it begins. Skipping it
  // then (a first look at stdin) changed nothing measurable: cold p50 171–172 ms without, 170–175 with (bench/session-latency.ts).
  const ctrl = new AbortController();
  const rehearsal = rehearse(AbortSignal.any([ctrl.signal, AbortSignal.timeout(10_000)])).catch(() => {});
  const handover = readHandover();
  await Promise.race([rehearsal, handover.catch(() => {})]);
  ctrl.abort();
  await rehearsal;
  return handover;
}

function required(from: Record<string, string | undefined>, name: string): string {
  const value = from[name];
  if (!value) fail(`${name} is not set; this image runs as an Outpost session container`);
  return value;
}

function fail(reason: string): never {
  process.stderr.write(`outpost-session: ${reason}\n`);
  process.exit(1);
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  // An older Outpost, or a cold start of an image without the handover label, sets the environment; else the item comes on stdin.
  const item = process.env['ANTHROPIC_SESSION_ID'] ? process.env : await warmThenHandover();
  const sessionId = required(item, 'ANTHROPIC_SESSION_ID');
  const token = required(item, 'ANTHROPIC_AUTH_TOKEN');
  const baseURL = required(item, 'ANTHROPIC_BASE_URL');
  // The SDK's own logging is off: its messages may quote requests; ours are the session's log.
  const client = new Anthropic({ baseURL, authToken: token, apiKey: null, logLevel: 'off' });
  const ctrl = new AbortController();
  process.once('SIGTERM', () => {
    log('SIGTERM: abandoning the tool call in flight and exiting');
    ctrl.abort();
  });

  const session = await client.beta.sessions.retrieve(sessionId, {}, { signal: ctrl.signal });
  if (session.status === 'terminated') {
    log(`session ${sessionId} is already terminated; nothing to do`);
    return;
  }
  log(`serving session ${sessionId} in ${WORKDIR}`);
  const ctx = { workdir: WORKDIR, client, session };
  const cleanupSkills = await setupSkills(ctx).catch((e: unknown) => {
    log(`skills could not be set up: ${(e as Error).message}`);
    return async () => {};
  });
  const tools = betaAgentToolset20260401(ctx).map(timed);
  const runner = client.beta.sessions.events.toolRunner(sessionId, { tools, signal: ctrl.signal });
  let calls = 0;
  try {
    for await (const call of runner) {
      calls++;
      if (!call.posted && call.result) log(`tool ${call.name}: its result could not be posted`);
    }
  } finally {
    await cleanupSkills();
  }
  if (ctrl.signal.aborted) process.exit(143);
  log(`session ${sessionId} ended after ${calls} tool call${calls === 1 ? '' : 's'}`);
}

type Tool = ReturnType<typeof betaAgentToolset20260401>[number];

/** The same tool, logging one line per call: name, duration, outcome, and what it was asked (one line). */
function timed(tool: Tool): Tool {
  const run = tool.run as (...args: unknown[]) => Promise<unknown>;
  return {
    ...tool,
    run: (async (...args: unknown[]) => {
      const started = Date.now();
      let outcome = 'ok';
      try {
        return await run(...args);
      } catch (e) {
        outcome = `error: ${firstLine((e as Error).message)}`;
        throw e;
      } finally {
        log(`tool ${tool.name} ${Date.now() - started} ms ${outcome}${subject(args[0])}`);
      }
    }) as Tool['run'],
  } as Tool;
}

/** The command, path or pattern a call was given, so the log tells what the session did. */
function subject(input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  const value = ['command', 'file_path', 'path', 'pattern'].map((k) => fields[k]).find((v) => typeof v === 'string');
  return typeof value === 'string' ? `: ${firstLine(value)}` : '';
}

/** An error's message and its causes', innermost last: fetch says only "fetch failed", its cause says why. */
function causes(e: unknown): string {
  const words: string[] = [];
  for (let at = e as { message?: unknown; cause?: unknown } | undefined, depth = 0; at && depth < 4; at = at.cause as typeof at, depth++) {
    const message = typeof at.message === 'string' ? firstLine(at.message) : '';
    if (message && !words.includes(message)) words.push(message);
  }
  return words.join(': ') || 'no reason given';
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.slice(0, 200);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    // A connection that never reached the API is not a refusal by it: say which, and why (the proxy's own words included).
    if (e instanceof Anthropic.APIConnectionError) fail(`the API could not be reached: ${causes(e)}`);
    if (e instanceof Anthropic.APIError) fail(`the API refused: ${e.status ?? ''} ${firstLine(e.message)}`);
    fail(firstLine((e as Error).message ?? String(e)));
  },
);
