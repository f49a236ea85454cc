import { Resolver as CaresResolver } from 'node:dns/promises';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A host name to its addresses, on the host's side (tests point it at 127.0.0.x servers). */
export type Resolver = (host: string) => Promise<string[]>;

const HOSTS_FILE = process.platform === 'win32' ? join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'drivers', 'etc', 'hosts') : '/etc/hosts';

/**
 * The proxy's lookups, asked of the system's name servers by c-ares on the event loop, not by
 * getaddrinfo: `dns.lookup` runs on libuv's four threads, which the worker's own lookups, file reads
 * and Docker calls share, and a session that floods slow names (2 s each) held all four for as long
 * as it liked — the worker's own lookup then took 16 s and another session lost its lease. The hosts
 * file is read first, as the system resolver would: c-ares alone does not read it.
 */
export function systemResolver(): Resolver {
  // A name server that does not answer costs two tries of 3 s, not the 5 s × 4 of c-ares's defaults.
  const dns = new CaresResolver({ timeout: 3_000, tries: 2 });
  const hosts = new HostsFile(HOSTS_FILE);
  return async (host) => {
    const listed = hosts.addresses(host);
    if (listed.length) return listed;
    const [v4, v6] = await Promise.allSettled([dns.resolve4(host), dns.resolve6(host)]);
    const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (addresses.length) return addresses;
    // A name with no record of either kind is a name not found, said as getaddrinfo says it.
    const failed = [v4, v6].map((r) => (r.status === 'rejected' ? ((r.reason as NodeJS.ErrnoException).code ?? 'ENOTFOUND') : 'ENODATA'));
    const code = failed.find((c) => c !== 'ENODATA' && c !== 'ENOTFOUND') ?? 'ENOTFOUND';
    throw Object.assign(new Error(`${host}: ${code}`), { code });
  };
}

/** The hosts file's names, re-read when it changes (read on the calling thread: a stat and a small read). */
class HostsFile {
  #mtimeMs = -1;
  #names = new Map<string, string[]>();

  constructor(private readonly path: string) {}

  addresses(host: string): string[] {
    this.#refresh();
    return this.#names.get(host.toLowerCase()) ?? [];
  }

  #refresh(): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      // No hosts file: every name goes to the name servers.
      this.#names = new Map();
      return;
    }
    if (mtimeMs === this.#mtimeMs) return;
    this.#mtimeMs = mtimeMs;
    const names = new Map<string, string[]>();
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!address || aliases.length === 0) continue;
      for (const alias of aliases) {
        const key = alias.toLowerCase();
        names.set(key, [...(names.get(key) ?? []), address]);
      }
    }
    this.#names = names;
  }
}
