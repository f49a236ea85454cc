/** Resolve after `ms`, or as soon as `signal` aborts (never rejects: callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolve when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * A signal that aborts after `ms`, or as soon as any of `signals` does. Not
 * `AbortSignal.any([AbortSignal.timeout(ms), …])`: on Node 20 the combined signal holds its sources
 * weakly, so a garbage collection before the deadline takes the timeout signal with it and the
 * deadline never fires — a hung heartbeat would never be cut off.
 * Here the timer holds the controller until it fires.
 */
export function deadline(ms: number, ...signals: AbortSignal[]): AbortSignal {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
  timer.unref();
  ctrl.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  return signals.length ? AbortSignal.any([ctrl.signal, ...signals]) : ctrl.signal;
}
