/**
 * Compile-time proof, checked by `npm run typecheck`: a handler's reply must match its
 * channel's response schema. Each `@ts-expect-error` fails the type check if tsc ever
 * accepts the line below it.
 */
import type { ContractHandlers } from '../../electron/core/handlers.js';

export const wrongState: ContractHandlers['worker.state'] =
  // @ts-expect-error a worker state with a status the contract does not know
  () => ({ status: 'sleeping' });

export const wrongShape: ContractHandlers['items.usage'] =
  // @ts-expect-error memory reported as a string, not a count
  async () => [{ workId: 'w', cpuPercent: 1, memoryBytes: '1 MB' }];

export const wrongRequest: ContractHandlers['items.stop'] =
  // @ts-expect-error the request carries workId, not id
  ({ id }) => id === 'w';

export const right: ContractHandlers['worker.stop'] = async ({ mode }) => (mode === 'now' ? null : null);
