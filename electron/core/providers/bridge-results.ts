import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { controlPlaneId, isControlPlaneId } from '../../../shared/ids.js';

/** How a Bridge item ended, as the API takes it: an ack with its result, or a stop with its reason. */
const reportSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ack'), result: z.record(z.string(), z.unknown()) }),
  z.object({ kind: z.literal('stop'), reason: z.string() }),
]);
export type BridgeReport = z.infer<typeof reportSchema>;

const fileSchema = z.object({ work_id: controlPlaneId, environment_id: z.string(), report: reportSchema, written_at: z.string() });

/**
 * Results the Bridge API has not taken yet, one file each (`<work id>.json`, 0600) in the data folder's
 * `bridge-results/`: an item's end is reported at most once the API confirms it, so a 502 or a restart in
 * between must not lose it. The Bridge provider is its only owner. Environments share the folder; each
 * file names its environment, and a provider reads only its own.
 */
export class BridgeResultStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Written beside and renamed into place: a crash leaves the old file or the new one, never half of one. */
  save(environmentId: string, workId: string, report: BridgeReport): void {
    const file = this.#file(workId);
    const body = JSON.stringify({ work_id: workId, environment_id: environmentId, report, written_at: new Date().toISOString() });
    writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  remove(workId: string): void {
    rmSync(this.#file(workId), { force: true });
  }

  /** This environment's waiting results; a file that does not parse is named in `unreadable` and left alone. */
  load(environmentId: string): { pending: Array<{ workId: string; report: BridgeReport }>; unreadable: string[] } {
    const pending: Array<{ workId: string; report: BridgeReport }> = [];
    const unreadable: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const parsed = (() => {
        try {
          return fileSchema.safeParse(JSON.parse(readFileSync(join(this.dir, name), 'utf8')));
        } catch {
          return undefined;
        }
      })();
      if (!parsed?.success || `${parsed.data.work_id}.json` !== name) {
        unreadable.push(name);
        continue;
      }
      if (parsed.data.environment_id === environmentId) pending.push({ workId: parsed.data.work_id, report: parsed.data.report });
    }
    return { pending, unreadable };
  }

  #file(workId: string): string {
    // Ids from a control plane are data, not paths (DESIGN §4): the poll checked it; check again at the path.
    if (!isControlPlaneId(workId)) throw new Error(`not a work id Outpost accepts: ${JSON.stringify(workId)}`);
    return join(this.dir, `${workId}.json`);
  }
}
