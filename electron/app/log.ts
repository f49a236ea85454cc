import type { NodeLogger } from 'electron-log';
import { join } from 'node:path';
import { createLogger, type Logger } from '../core/logs/log.js';
import { redact } from '../core/secrets/secret.js';

/** electron-log/main in the app; electron-log/node (the same file transport) in tests. */
export type ElectronLog = NodeLogger;

/**
 * The app's own log: electron-log's file, rotated at 5 MB. Every record passes the one
 * redaction filter twice over: the core logger redacts its lines, and a hook redacts
 * anything else that reaches electron-log directly.
 */
export function appLogFile(logsFolder: string): string {
  return join(logsFolder, 'outpost.log');
}

export function configureAppLog(electronLog: ElectronLog, logsFolder: string): Logger {
  const file = appLogFile(logsFolder);
  electronLog.transports.file.resolvePathFn = () => file;
  electronLog.transports.file.maxSize = 5 * 1024 * 1024;
  electronLog.transports.file.level = 'info';
  electronLog.hooks.push((message) => ({ ...message, data: message.data.map(redactValue) }));
  electronLog.transports.console.level = false;
  return createLogger({ format: 'text', sink: { write: (line) => electronLog.info(line.trimEnd()) } });
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) return redact(value.stack ?? value.message);
  try {
    return JSON.parse(redact(JSON.stringify(value)));
  } catch {
    return '[unprintable]';
  }
}
