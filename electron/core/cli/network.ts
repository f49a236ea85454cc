/**
 * The headless worker's way out to its control plane, through the proxy its environment names.
 * Node's own fetch ignores HTTPS_PROXY and NO_PROXY (Node 20; 22.21 and 24 honour them only with
 * NODE_USE_ENV_PROXY), so a worker behind a corporate proxy could not reach the API at all. With
 * any of the proxy variables set, every control-plane call goes through undici's EnvHttpProxyAgent,
 * which reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY (either case; the lower-case one wins, as in curl): HTTPS through an
 * HTTP CONNECT tunnel, so TLS stays end to end with the API.
 *
 * Certificates: Node checks the API's against its own copy of Mozilla's roots, plus the file in
 * NODE_EXTRA_CA_CERTS (read at start: a corporate root, for a proxy that inspects TLS). Node 20 has no
 * switch to the OS's own store but --use-openssl-ca, which on Linux reads the system's
 * (/etc/ssl/certs, where update-ca-certificates installs a company's root); README says both.
 *
 * This applies to the control plane only. Sessions reach the network through their own egress
 * policy (egress/), never through this process's proxy settings.
 */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/** The proxy variables this environment sets (names only: a proxy URL may carry a password). */
export function proxyVariablesSet(env: NodeJS.ProcessEnv): string[] {
  return PROXY_VARIABLES.filter((name) => (env[name] ?? '').trim() !== '');
}

/**
 * The fetch for control-plane calls: undefined (Node's own) when no proxy is set, else undici's
 * fetch over an EnvHttpProxyAgent. undici's own fetch rather than Node's with undici's agent: Node 20
 * bundles undici 6, and its fetch and a dispatcher of the undici 7 package speak different handler
 * versions. Loaded only when needed: most workers have no proxy, and undici costs memory.
 */
export async function controlPlaneFetch(env: NodeJS.ProcessEnv): Promise<typeof fetch | undefined> {
  if (proxyVariablesSet(env).length === 0) return undefined;
  const undici = await import('undici');
  const agent = new undici.EnvHttpProxyAgent();
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => undici.fetch(input as never, { ...(init as object), dispatcher: agent } as never)) as unknown as typeof fetch;
}
