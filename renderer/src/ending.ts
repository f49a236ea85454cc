import type { ItemStatus } from '../../shared/states.js';

/**
 * How an item ended, for the history: the core records a status and a reason in words
 * (electron/core/worker/supervisor.ts, providers/anthropic/lease.ts); "finished" covers a
 * clean exit and every kind of stop, so the reason tells them apart.
 */
export type EndKind = 'finished' | 'failed' | 'stopped-by-user' | 'stopped-by-control-plane' | 'stopped-by-outpost' | 'lost' | 'timed-out';

export function endKind(status: ItemStatus, reason: string | undefined): EndKind {
  const why = reason ?? '';
  if (status === 'lost' || why.startsWith('lease lost')) return 'lost';
  if (status === 'failed') return 'failed';
  if (why === 'timeout exceeded') return 'timed-out';
  if (why === 'stopped: by the user') return 'stopped-by-user';
  if (why.startsWith('stopped by the control plane') || why === 'the control plane did not extend the lease') return 'stopped-by-control-plane';
  // "stopped: Outpost is shutting down", a Bridge item stopped after a restart, an unsupported type not run.
  if (why.startsWith('stopped:') || why.startsWith('unsupported work type')) return 'stopped-by-outpost';
  return 'finished';
}

/** Each ending in its own words and symbol: the colour (styles.css, `.end-…`) is never the only signal. */
export const END_LABEL: Record<EndKind, { symbol: string; words: string }> = {
  finished: { symbol: '✓', words: 'finished' },
  failed: { symbol: '✕', words: 'failed' },
  'stopped-by-user': { symbol: '■', words: 'stopped by you' },
  'stopped-by-control-plane': { symbol: '■', words: 'stopped by the control plane' },
  'stopped-by-outpost': { symbol: '■', words: 'stopped by Outpost' },
  lost: { symbol: '?', words: 'lost' },
  'timed-out': { symbol: '◷', words: 'timed out' },
};
