import { useEffect, useRef, useState } from 'react';
import type { Channel, Request, Response, ServiceEvent } from '../../shared/contract.js';
import { connect } from './transport.js';

const transport = connect();

/** One contract call; an error envelope becomes a thrown Error carrying the core's words. */
export async function call<C extends Channel>(channel: C, arg?: Request<C>): Promise<Response<C>> {
  const reply = await transport.call(channel, arg ?? {});
  if ('error' in reply) throw new Error(reply.error.message);
  return reply.result as Response<C>;
}

export function useServiceEvents(listener: (event: ServiceEvent) => void): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => transport.onEvent((e) => latest.current(e)), []);
}

/** Re-run `load` every `ms` while the page is visible; returns the latest value and error. */
export function usePolled<T>(load: () => Promise<T>, ms: number, deps: unknown[]): { value: T | undefined; error: string | undefined; reload: () => void } {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () => {
      if (document.visibilityState === 'hidden') return;
      load().then(
        (v) => live && (setValue(v), setError(undefined)),
        (e: Error) => live && setError(e.message),
      );
    };
    run();
    const timer = setInterval(run, ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1) };
}

/** Save bytes as a file, in the window and in a browser alike. */
export function saveFile(name: string, parts: BlobPart[], type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
