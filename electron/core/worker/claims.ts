import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkedName, PRIVATE_FILE_MODE, sessionKey, within } from '../store/paths.js';
import type { ClaimRecord, ClaimUpdate } from '../providers/control-plane.js';

/** A claim as kept on disk: what the control plane needs to recover it, and which process holds it. */
export interface StoredClaim extends ClaimRecord {
  /**
   * The InstanceRecord id of the process holding the claim. Absent in records written by an
   * Outpost before claims had owners: recovery treats those as left by a process that died.
   */
  instanceId?: string;
  /**
   * The warm name (label outpost.warm) of the container that serves the item, when a warm one was
   * handed it: its labels, fixed before the item existed, carry no work id (worker/warm-pool.ts).
   */
  warm?: string;
}

const SUFFIX = '.json';

/**
 * The claims folder (the data folder's `leases/`): one file per work item this install holds,
 * so that a restarted Outpost can stop the items of a process that died holding them. The only
 * writer: an item's run opens its claim, updates it and releases it; startup recovery lists and
 * forgets what dead processes left. Several processes may share the folder (the desktop app and a
 * headless worker), so each record names its owner.
 */
export class ClaimStore {
  constructor(private readonly dir: string) {}

  /** Record a claim before anything else happens to the item: if this process dies from here on, recovery finds it. */
  open(record: ClaimRecord & { instanceId: string }): Claim {
    return new Claim(this.#file(record.environmentId, record.workId), record, (file, claim) => this.#write(file, claim));
  }

  /** Every readable claim in the folder, whoever holds it. */
  list(): StoredClaim[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .flatMap((name) => {
        const claim = read(join(this.dir, name));
        return claim ? [claim] : [];
      });
  }

  /**
   * Drop the claim of a process that is gone (startup recovery, once the item is dealt with). An older
   * Outpost named its claim by the work id alone: that file goes too when it is this environment's.
   */
  forget(claim: Pick<ClaimRecord, 'environmentId' | 'workId'>): void {
    rmSync(this.#file(claim.environmentId, claim.workId), { force: true });
    const legacy = within(this.dir, `${checkedName(claim.workId)}${SUFFIX}`);
    if (read(legacy)?.environmentId === claim.environmentId) rmSync(legacy, { force: true });
  }

  /** Named by environment and work id (paths.ts sessionKey): two environments may hand out the same work id. */
  #file(environmentId: string, workId: string): string {
    return within(this.dir, `${sessionKey(environmentId, workId)}${SUFFIX}`);
  }

  /** Write to a temporary name, then rename over the record: a crash mid-write leaves the old record or the new, never half of one. */
  #write(file: string, claim: StoredClaim): void {
    const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(claim), { mode: PRIVATE_FILE_MODE });
      renameSync(temp, file);
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
  }
}

/** One item's claim, held by this process: `update` and `release` are the only ways it changes. */
export class Claim {
  #record: StoredClaim & { instanceId: string };
  #released = false;

  constructor(
    private readonly file: string,
    record: ClaimRecord & { instanceId: string },
    private readonly write: (file: string, claim: StoredClaim) => void,
  ) {
    this.#record = { ...record };
    write(file, this.#record);
  }

  /** What the control plane told us since (Anthropic: the last heartbeat, which recovery echoes to prove the lease). */
  update(update: ClaimUpdate): void {
    if (this.#released) return;
    this.#record = { ...this.#record, ...update };
    this.write(this.file, this.#record);
  }

  /** A warm container serves the item: recovery finds it by this name (its labels carry no work id). */
  servedBy(warm: string): void {
    if (this.#released) return;
    this.#record = { ...this.#record, warm };
    this.write(this.file, this.#record);
  }

  /**
   * The item is over: forget the claim. A record that another process has since written under the
   * same name (it was handed the same item after our lease lapsed) is its claim, not ours, and stays.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const onDisk = read(this.file);
    if (onDisk && onDisk.instanceId !== this.#record.instanceId) return;
    rmSync(this.file, { force: true });
  }
}

function read(file: string): StoredClaim | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredClaim;
  } catch {
    return undefined;
  }
}
