import { inspect } from 'node:util';

const REDACTED = '[redacted]';
const FORGET_AFTER_MS = 60_000;
/** Shorter values would redact ordinary words; real keys and tokens are long. Input of a key refuses anything shorter. */
export const MIN_SECRET_LENGTH = 8;

/**
 * A credential that cannot leak by accident: printing, string interpolation,
 * JSON and util.inspect all show `[redacted]`. Only `reveal()` gives the value,
 * and only code that puts it on the wire should call it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (!value) throw new Error('a secret cannot be empty');
    this.#value = value;
    registerForRedaction(value);
  }

  reveal(): string {
    return this.#value;
  }

  /**
   * The credential is done with (its item ended): the redaction filter need not carry it for
   * long. Not at once: an item's last words — its final state, a reason quoting the 401 that
   * ended it — are published after its credentials are let go.
   */
  dispose(): void {
    setTimeout(() => forgetForRedaction(this.#value), FORGET_AFTER_MS).unref();
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Each registered value, with how many holders registered it, and the forms it is removed in. */
const knownSecrets = new Map<string, { holders: number; forms: string[] }>();
let allForms: string[] = [];

/** Remember a value that must never be printed; `redact` removes it (and its encoded forms) from any text. */
export function registerForRedaction(value: string): void {
  if (value.length < MIN_SECRET_LENGTH) return;
  const known = knownSecrets.get(value);
  if (known) known.holders++;
  else knownSecrets.set(value, { holders: 1, forms: formsOf(value) });
  refresh();
}

export function forgetForRedaction(value: string): void {
  const known = knownSecrets.get(value);
  if (!known) return;
  // Two holders of one value (a key read twice from the keychain): the first to go must not unprotect the other.
  if (--known.holders > 0) return;
  knownSecrets.delete(value);
  refresh();
}

/**
 * Above this many forms (about 28 secrets: a worker that served hundreds of short items in the last
 * minute), `redact` looks each form up by its first characters at every position of the text instead
 * of searching the text once per form: a log line then costs 5 µs, not 115, with 750 secrets held.
 */
const INDEX_ABOVE = 256;
let byPrefix: Map<string, string[]> | undefined;

function refresh(): void {
  // Longest first: a form that contains another is removed whole.
  allForms = [...new Set([...knownSecrets.values()].flatMap((k) => k.forms))].sort((a, b) => b.length - a.length);
  byPrefix = undefined;
  if (allForms.length <= INDEX_ABOVE) return;
  byPrefix = new Map();
  for (const form of allForms) {
    const prefix = form.slice(0, MIN_SECRET_LENGTH);
    const same = byPrefix.get(prefix);
    if (same) same.push(form);
    else byPrefix.set(prefix, [form]);
  }
}

/** The forms that may occur in `text`, longest first: every form is at least MIN_SECRET_LENGTH long. */
function formsIn(text: string): readonly string[] {
  if (!byPrefix) return allForms;
  const found = new Set<string>();
  for (let at = 0; at + MIN_SECRET_LENGTH <= text.length; at++) {
    for (const form of byPrefix.get(text.slice(at, at + MIN_SECRET_LENGTH)) ?? []) found.add(form);
  }
  return found.size === 0 ? [] : [...found].sort((a, b) => b.length - a.length);
}

/**
 * How a value can appear in text that left its owner's hands: as it is, JSON-escaped (a log
 * line, an error body quoted in another), URL-encoded (a query string echoed back), and
 * base64 / base64url (a Basic header, an encoded blob) at each of the three byte alignments —
 * only the characters that depend on the value's bytes alone, so it is found inside a longer blob.
 */
function formsOf(value: string): string[] {
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
  const bytes = Buffer.from(value);
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    const encoded = padded.toString('base64');
    const core = encoded.slice(shift === 0 ? 0 : 4, Math.floor(padded.length / 3) * 4);
    if (core.length >= MIN_SECRET_LENGTH) forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...new Set(forms)];
}

// Shapes of Anthropic credentials, caught even when never registered (a key pasted into an error body).
const CREDENTIAL_PATTERN = /sk-ant-[A-Za-z0-9_-]{8,}/g;

/** The one redaction filter: every string that leaves the process passes through here. */
export function redact(text: string): string {
  let out = text;
  for (const form of formsIn(text)) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out.replace(CREDENTIAL_PATTERN, REDACTED);
}

/** `redact` over every string in a plain value (an event, a reply, log fields), before it is serialised. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (value instanceof Secret) return value;
  if (value instanceof Error) return redact(value.message) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
