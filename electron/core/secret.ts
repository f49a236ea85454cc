import { inspect } from 'node:util';

const REDACTED = '[redacted]';

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

  /** The credential is done with (its item ended): the redaction filter need not carry it any longer. */
  dispose(): void {
    forgetForRedaction(this.#value);
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

const knownSecrets = new Set<string>();

/** Remember a value that must never be printed; `redact` removes it from any text. */
export function registerForRedaction(value: string): void {
  // Short values would redact ordinary words; real keys and tokens are long.
  if (value.length >= 8) knownSecrets.add(value);
}

export function forgetForRedaction(value: string): void {
  knownSecrets.delete(value);
}

// Shapes of Anthropic credentials, caught even when never registered (a key pasted into an error body).
const CREDENTIAL_PATTERN = /sk-ant-[A-Za-z0-9_-]{8,}/g;

/** The one redaction filter: every log sink passes its text through here. */
export function redact(text: string): string {
  let out = text;
  for (const value of knownSecrets) {
    if (out.includes(value)) out = out.split(value).join(REDACTED);
  }
  return out.replace(CREDENTIAL_PATTERN, REDACTED);
}
