/**
 * The names of the contract's calls, free of zod so the sandboxed preload can bundle them
 * small. shared/contract.ts holds their schemas and checks that the two lists agree.
 */
export const CHANNEL_NAMES = [
  'worker.state',
  'worker.start',
  'worker.pause',
  'worker.resume',
  'worker.stop',
  'items.list',
  'items.stop',
  'settings.get',
  'settings.update',
  'keys.status',
  'keys.set',
  'keys.clear',
  'account.connect',
  'environments.list',
  'environments.stats',
  'environments.create',
  'environments.archive',
  'items.usage',
  'history.list',
  'logs.info',
  'logs.lines',
  'logs.search',
  'workspace.list',
  'workspace.read',
  'egress.list',
  'egress.allow',
  'engine.describe',
  'machine.check',
] as const;

export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** IPC channel names: calls are `outpost:<name>`, events all arrive on one channel. */
export const ipcChannel = (name: ChannelName): string => `outpost:${name}`;
export const IPC_EVENT_CHANNEL = 'outpost:event';

/**
 * The headless dashboard's WebSocket subprotocols: the page offers `outpost` and
 * `outpost-token.<token>`; the server checks the token in the handshake and answers `outpost`.
 */
export const DASHBOARD_PROTOCOL = 'outpost';
export const DASHBOARD_TOKEN_PROTOCOL = 'outpost-token.';
