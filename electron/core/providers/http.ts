/**
 * The HTTP every control-plane call goes through, when its head injects none: Node's global fetch,
 * looked up at each call (so the headless worker's proxy dispatcher, set at start, applies).
 * The desktop app injects Electron's net.fetch instead (the system's proxy, PAC and certificates).
 */
export const globalFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);
