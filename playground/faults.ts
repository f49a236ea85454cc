import type { ServerResponse } from 'node:http';

/** One injected fault: the next `count` matching requests get it. */
export interface FaultRule<Route extends string = string> {
  route: Route | '*';
  count: number;
  /** Answer with this HTTP status and an API error body. */
  status?: number;
  /** Answer late by this much (after doing the work), or … */
  delayMs?: number;
  /** … never answer (until the client gives up). */
  hang?: boolean;
  /** 'json': a body that is not JSON; 'shape': JSON that is not the documented shape. */
  malformed?: 'json' | 'shape';
  /** Gone after this long, used or not: an outage that ends, rather than faults piling up for the next caller. */
  ttlMs?: number;
  /** With `status`: a `Retry-After` header of this many seconds (a control plane that asks for an hour). */
  retryAfterSeconds?: number;
  /** Slow-loris: send the headers, then one byte every `trickleMs` (2 s by default) for as long as the client listens. */
  trickle?: boolean;
  trickleMs?: number;
  /** A 200 whose JSON body is this many bytes (a control plane that answers a poll with 50 MB). */
  hugeBytes?: number;
}

/** Slow-loris: a 200 whose body never ends — one byte every `everyMs` until the client hangs up. */
export function answerSlowly(res: ServerResponse, everyMs = 2_000): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), everyMs);
  res.on('close', () => clearInterval(timer));
}

/** A 200 with a JSON body of `bytes` bytes, written in 1 MiB chunks as the client reads them. */
export function answerHuge(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes) });
  const chunk = Buffer.alloc(1 << 20, ' ');
  let left = bytes - 2;
  res.write('{');
  const more = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', more);
    }
    res.end('}');
  };
  res.on('error', () => {});
  more();
}

/** The fault knobs both playgrounds share: bursts of errors, slow or hung answers, malformed bodies. */
export class Faults<Route extends string, Rule extends FaultRule<Route> = FaultRule<Route>> {
  readonly #rules: Array<Rule & { expiresAt: number }> = [];

  add(rule: Rule): void {
    this.#rules.push({ ...rule, expiresAt: rule.ttlMs === undefined ? Infinity : Date.now() + rule.ttlMs });
  }

  clear(): void {
    this.#rules.length = 0;
  }

  /** The fault this request gets, if any (and one less of it for the next). */
  take(route: Route): Rule | undefined {
    const now = Date.now();
    for (let i = this.#rules.length - 1; i >= 0; i--) if (this.#rules[i]!.expiresAt < now) this.#rules.splice(i, 1);
    const rule = this.#rules.find((f) => f.count > 0 && (f.route === '*' || f.route === route));
    if (!rule) return undefined;
    rule.count--;
    if (rule.count === 0) this.#rules.splice(this.#rules.indexOf(rule), 1);
    return rule;
  }
}
