import { createWriteStream, readFileSync } from 'node:fs';
import { egressConnectionSchema, type EgressConnection } from '../../../shared/contract.js';
import { latestByKey } from '../store/json-lines.js';
import { PRIVATE_FILE_MODE } from '../store/paths.js';
import { redact, redactDeep } from '../secrets/secret.js';
import type { ConnectionRecord } from './proxy.js';

/** A session that opens more connections than this has the rest counted, not each logged (the log has a cap of its own). */
const LOGGED_CONNECTIONS = 10_000;

/**
 * Each connection as a plain line in the session's log, as a JSON line beside it (the Network view's
 * history), and as an event: all redacted, since a host name can carry a token.
 */
export class ConnectionLog {
  readonly #lines;
  readonly #records;
  readonly #workId: string;
  #count = 0;

  constructor(
    files: { logFile: string; recordFile: string; workId: string },
    private readonly onConnection?: (connection: EgressConnection) => void,
  ) {
    this.#workId = files.workId;
    this.#lines = createWriteStream(files.logFile, { flags: 'a', mode: PRIVATE_FILE_MODE });
    this.#records = createWriteStream(files.recordFile, { flags: 'a', mode: PRIVATE_FILE_MODE });
    // A full disk loses these lines, as it does the session's own.
    this.#lines.on('error', () => {});
    this.#records.on('error', () => {});
  }

  add(record: ConnectionRecord): void {
    if (record.open) {
      // Said at once, so a long download or stream shows while it runs; its line in the log waits for its end.
      if (this.#count < LOGGED_CONNECTIONS) this.#record(record);
      return;
    }
    if (++this.#count > LOGGED_CONNECTIONS) {
      if (this.#count === LOGGED_CONNECTIONS + 1) this.#lines.write(`${new Date().toISOString()} [egress] more than ${LOGGED_CONNECTIONS} connections: the rest are not logged\n`);
      return;
    }
    // Written when it closed, like every other line: the log stays in time order (the line says how long it took).
    this.#lines.write(`${new Date().toISOString()} ${redact(describeConnection(record))}\n`);
    this.#record(record);
  }

  /** A line about the egress path itself (the forwarder's own errors), in the session's log. */
  note(line: string): void {
    this.#lines.write(`${new Date().toISOString()} [egress] ${redact(line)}\n`);
  }

  #record(record: ConnectionRecord): void {
    const connection = redactDeep({ workId: this.#workId, ...record });
    this.#records.write(`${JSON.stringify(connection)}\n`);
    this.onConnection?.(connection);
  }

  async close(): Promise<void> {
    await Promise.all([this.#lines, this.#records].map((s) => new Promise((resolve) => s.end(resolve))));
  }
}

/**
 * A session's connections, as its JSON lines keep them (an open one's last report wins): what does
 * not parse (a line cut by a full disk) is left out.
 */
export function readConnections(recordFile: string): EgressConnection[] {
  let text: string;
  try {
    text = readFileSync(recordFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return latestByKey(text, egressConnectionSchema, (c) => c.id);
}

/** `[egress] allowed CONNECT pypi.org:443 (allowlist: pypi.org) 151.101.0.223 up 1.2 KB down 3.4 MB 812 ms` */
export function describeConnection(c: ConnectionRecord): string {
  const verdict = c.allowed ? 'allowed' : 'refused';
  const where = c.address ? ` ${c.address}` : '';
  const traffic = c.allowed ? ` up ${bytes(c.bytesUp)} down ${bytes(c.bytesDown)} ${c.durationMs} ms` : '';
  const failed = c.error ? ` failed: ${c.error}` : '';
  return `[egress] ${verdict} ${c.method} ${c.host}:${c.port} (${c.rule})${where}${traffic}${failed}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
