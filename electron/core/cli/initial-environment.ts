import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * Wipe `NAME=value` of the given names from this process's initial environment block. Deleting from
 * process.env only unlinks a variable from libc's list: its bytes stay in the block the kernel shows as
 * /proc/<pid>/environ for the whole life of the process, readable by the same user, root, and anything
 * given the host's /proc. Node cannot exec itself afresh, so the block is overwritten in place, through
 * /proc/self/mem, at the addresses /proc/self/stat gives for it (env_start, fields 50 and 51).
 * Call it after the values were read and deleted from process.env. Linux only; elsewhere, nothing.
 * Returns whether every entry found was wiped.
 */
export function wipeFromInitialEnvironment(names: readonly string[]): boolean {
  if (process.platform !== 'linux' || names.length === 0) return true;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis (field 3 is index 0).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[50 - 3]);
    const block = readFileSync('/proc/self/environ');
    const prefixes = names.map((name) => Buffer.from(`${name}=`));
    const mem = openSync('/proc/self/mem', 'r+');
    try {
      for (let offset = 0; offset < block.length; ) {
        let end = block.indexOf(0, offset);
        if (end === -1) end = block.length;
        const entry = block.subarray(offset, end);
        if (prefixes.some((p) => entry.subarray(0, p.length).equals(p))) writeSync(mem, Buffer.alloc(entry.length), 0, entry.length, start + offset);
        offset = end + 1;
      }
    } finally {
      closeSync(mem);
    }
    return true;
  } catch {
    // A kernel that refuses writes to /proc/self/mem (a hardened one, some sandboxes): the keys stay where they were, as before.
    return false;
  }
}
