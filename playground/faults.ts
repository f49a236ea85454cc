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
}

/** The fault knobs both playgrounds share: bursts of errors, slow or hung answers, malformed bodies. */
export class Faults<Route extends string> {
  readonly #rules: Array<FaultRule<Route> & { expiresAt: number }> = [];

  add(rule: FaultRule<Route>): void {
    this.#rules.push({ ...rule, expiresAt: rule.ttlMs === undefined ? Infinity : Date.now() + rule.ttlMs });
  }

  clear(): void {
    this.#rules.length = 0;
  }

  /** The fault this request gets, if any (and one less of it for the next). */
  take(route: Route): FaultRule<Route> | undefined {
    const now = Date.now();
    for (let i = this.#rules.length - 1; i >= 0; i--) if (this.#rules[i]!.expiresAt < now) this.#rules.splice(i, 1);
    const rule = this.#rules.find((f) => f.count > 0 && (f.route === '*' || f.route === route));
    if (!rule) return undefined;
    rule.count--;
    if (rule.count === 0) this.#rules.splice(this.#rules.indexOf(rule), 1);
    return rule;
  }
}
