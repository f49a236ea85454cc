import { redact, redactDeep } from '../secrets/secret.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type LogFormat = 'text' | 'json';

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

/**
 * Writes one line per record, text or JSON, through the redaction filter —
 * whatever a caller passes (an error carrying a request, a key by mistake),
 * known secrets never reach the sink.
 */
export function createLogger(opts: { format: LogFormat; level?: LogLevel; sink: LogSink; clock?: () => Date }): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const clock = opts.clock ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    const time = clock().toISOString();
    // Redacted before it is serialised: JSON escapes a `"` or `\\` inside a key, and the escaped form would slip past.
    const normalized = redactDeep(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? v.message : v])));
    const msg = redact(message);
    const line =
      opts.format === 'json' ?
        JSON.stringify({ time, level, msg, ...normalized })
      : `${time} ${level.toUpperCase().padEnd(5)} ${msg}${formatFields(normalized)}`;
    opts.sink.write(redact(line) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function formatFields(fields: LogFields): string {
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length ? ' ' + parts.join(' ') : '';
}

/** A logger that drops everything; for code paths whose caller did not ask for logs. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
