import { setFlagsFromString } from 'node:v8';

/**
 * A worker mostly waits: V8 is told to spend little memory on it (bench/memory.ts, 1,000
 * items at 4 at once). Set at run time, so that every way of starting the worker gets them with no
 * flag to pass (the bin, the service unit, the image's entrypoint), and the Electron app does not.
 * - --optimize-for-size: memory-saving heap heuristics (RSS 129 → 175 MiB before a major GC; flat with it).
 * - --semi-space-growth-factor=1: the young generation stays at its initial 2 × 1 MiB instead of growing to
 *   2 × 8 MiB under load (--max-semi-space-size would say the same but is read only before the heap exists).
 * - --no-opt, --no-maglev: no optimising compilers. Their code and their compilations' memory cost
 *   ~5–10 MiB of RSS; the worker's own JavaScript is glue between I/O (JSON, regular expressions and
 *   streams run natively either way), and costs ~13 % more CPU interpreted (bench/memory.ts: 3.4 s, not 3.0 s, per 200 items).
 * Benches that time what the worker runs in its own process (the egress proxy, the log search) set them too.
 * The flags are process-wide: worker threads (the log search's, logs/search-scan.ts) run under them too, so
 * a pass over much data there is made of native calls (Buffer, String, RegExp), not a JavaScript loop per byte.
 */
export function useWorkerV8Flags(): void {
  for (const flag of ['--optimize-for-size', '--semi-space-growth-factor=1', '--no-opt', '--no-maglev']) setFlagsFromString(flag);
}
