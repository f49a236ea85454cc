/**
 * What a control plane answers is read up to a cap (DESIGN §4: every outside input is bounded).
 * Read whole, a 50 MB poll body would grow the worker's RSS by hundreds of MiB: fetch's text() and json() and
 * the SDK's parsing hold the whole body before anything can look at its size.
 */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';

  constructor(response: Response, readonly maxBytes: number) {
    super(`${response.url || 'the server'} answered with more than ${Number((maxBytes / 2 ** 20).toFixed(2))} MiB; the rest was not read`);
  }
}

/** The body, whole, if it is at most `maxBytes`; past that, the connection is dropped and ResponseTooLargeError thrown. */
export async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  if (declaredLength(response) > maxBytes) {
    await response.body?.cancel();
    throw new ResponseTooLargeError(response, maxBytes);
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Cancelling the body closes the connection: the rest is never read off the socket.
      await reader.cancel();
      throw new ResponseTooLargeError(response, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A fetch whose responses' bodies fail with ResponseTooLargeError past `maxBytes`, for a client that
 * reads bodies itself (the Anthropic SDK's `fetch` option). The error comes when the body is read,
 * not from fetch itself: a client retries a fetch that throws as if the connection had failed.
 */
export function cappedFetch(maxBytes: number, fetchImpl: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (!response.body) return response;
    const tooLarge = new ResponseTooLargeError(response, maxBytes);
    let body: ReadableStream<Uint8Array>;
    if (declaredLength(response) > maxBytes) {
      await response.body.cancel();
      body = new ReadableStream({ start: (controller) => controller.error(tooLarge) });
    } else {
      let size = 0;
      // pipeThrough cancels the source when the transform errors: the connection is dropped.
      body = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            size += chunk.byteLength;
            if (size > maxBytes) controller.error(tooLarge);
            else controller.enqueue(chunk);
          },
        }),
      );
    }
    const capped = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    Object.defineProperty(capped, 'url', { value: response.url });
    return capped;
  };
}

function declaredLength(response: Response): number {
  return Number(response.headers.get('content-length') ?? 0);
}
