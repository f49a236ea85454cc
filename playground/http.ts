import type { IncomingMessage, ServerResponse } from 'node:http';

/** Anthropic's error envelope (seed 001): `{type: "error", error: {type, message, …}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found_error', `${what} not found`);
export const badRequest = (message: string) => new ApiError(400, 'invalid_request_error', message);
export const unauthorized = (message = 'invalid x-api-key') => new ApiError(401, 'authentication_error', message);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${Date.now()}`, ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: ApiError): void {
  sendJson(res, e.status, { type: 'error', error: { type: e.type, message: e.message, ...e.extra } });
}

export async function readJson(req: IncomingMessage, limitBytes = 1 << 20): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new ApiError(413, 'request_too_large', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw badRequest('request body is not a JSON object');
  }
}

/** The bearer token or x-api-key a request carries. */
export function credentialOf(req: IncomingMessage): string | undefined {
  const auth = req.headers['authorization'];
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
}

/** Opaque cursor pages over a list already in order. */
export function page<T extends { id: string }>(items: T[], url: URL, defaultLimit = 20, maxLimit = 100): { data: T[]; next_page: string | null } {
  const limitParam = url.searchParams.get('limit');
  const limit = limitParam === null ? defaultLimit : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) throw badRequest(`limit must be an integer from 1 to ${maxLimit}`);
  const cursor = url.searchParams.get('page');
  let start = 0;
  if (cursor) {
    const after = Buffer.from(cursor, 'base64url').toString('utf8');
    const index = items.findIndex((i) => i.id === after);
    if (index < 0) throw badRequest('page cursor is not valid');
    start = index + 1;
  }
  const data = items.slice(start, start + limit);
  const last = data.at(-1);
  const more = start + limit < items.length;
  return { data, next_page: more && last ? Buffer.from(last.id).toString('base64url') : null };
}
