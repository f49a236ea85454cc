import { useEffect, useState } from 'react';
import type { EgressConnection, Settings } from '../../../shared/contract.js';
import { call, useServiceEvents } from '../api.js';
import { bytes, clock } from '../format.js';
import { ErrorLine } from './ErrorLine.js';

/**
 * Every connection a session opened through its egress proxy: live while it runs,
 * kept with its log after. A refused one says how to allow it, and one click adds it to the
 * environment's allowlist (its next session gets it).
 */
export function Network({ workId, environmentId, settings, onSettings, back }: { workId: string; environmentId: string; settings: Settings; onSettings: (s: Settings) => void; back: () => void }) {
  const [connections, setConnections] = useState<EgressConnection[]>([]);
  const [error, setError] = useState<string>();
  const [added, setAdded] = useState<string>();
  useEffect(() => {
    let live = true;
    call('egress.list', { environmentId, workId }).then(
      (list) => live && setConnections((seen) => seen.reduce(upsert, list)),
      (e: Error) => live && setError(e.message),
    );
    return () => void (live = false);
  }, [environmentId, workId]);
  useServiceEvents((event) => {
    if (event.name === 'egress' && event.payload.workId === workId) setConnections((list) => upsert(list, event.payload));
  });

  const profile = settings.environments.find((e) => e.environmentId === environmentId);
  const allow = (entry: string) =>
    call('egress.allow', { environmentId, entry }).then(
      (s) => (onSettings(s), setAdded(entry)),
      (e: Error) => setError(e.message),
    );
  const refused = connections.filter((c) => !c.allowed).length;

  return (
    <section>
      <div className="section-head">
        <button onClick={back}>← Back</button>
        <h1>
          Network of <code>{workId}</code>
        </h1>
      </div>
      <p className="muted" data-testid="egress-policy">
        {profile ? policyWords(profile.egress) : `No settings for ${environmentId} on this machine.`} {connections.length} connections, {refused} refused.
      </p>
      <ErrorLine message={error} />
      {added && (
        <p role="status" className="notice info">
          Added <code>{added}</code> to the allowlist of <code>{environmentId}</code>: its next sessions may reach it.
        </p>
      )}
      {connections.length === 0 ?
        <p className="empty">No connection yet. Each one the session opens appears here as it is decided.</p>
      : <table className="grid" aria-label="Connections">
          <thead>
            <tr>
              <th>At</th>
              <th>Host</th>
              <th>Verdict</th>
              <th>Rule</th>
              <th>Up</th>
              <th>Down</th>
              <th>Took</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {[...connections].reverse().map((c) => {
              const listed = !!c.suggest && !!profile?.allowHosts.includes(c.suggest);
              return (
                <tr key={c.id} data-host={c.host} data-allowed={c.allowed} data-open={c.open ?? false}>
                  <td>{clock(c.at)}</td>
                  <td>
                    <code>
                      {c.host}:{c.port}
                    </code>
                  </td>
                  <td>
                    <span className={c.allowed && !c.error ? 'state running' : 'state end-failed'}>{verdict(c)}</span>
                  </td>
                  <td className="reason" title={c.rule}>
                    {c.rule}
                  </td>
                  <td>{c.allowed && !c.open ? bytes(c.bytesUp) : ''}</td>
                  <td>{c.allowed && !c.open ? bytes(c.bytesDown) : ''}</td>
                  <td>{c.allowed && !c.open ? `${c.durationMs} ms` : ''}</td>
                  <td className="actions">
                    {!c.allowed && c.suggest && profile?.egress === 'allowlist' && !listed && (
                      <button onClick={() => void allow(c.suggest!)} title={`Add ${c.suggest} to the allowlist of ${environmentId}`}>
                        Allow {c.suggest}
                      </button>
                    )}
                    {!c.allowed && c.suggest && profile?.egress === 'allowlist' && listed && <span className="muted">on the allowlist now</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      }
    </section>
  );
}

/** A connection reported again (an open one, closed) replaces its first report, in place. */
function upsert(list: EgressConnection[], c: EgressConnection): EgressConnection[] {
  const at = list.findIndex((x) => x.id === c.id);
  return at === -1 ? [...list, c] : list.map((x, i) => (i === at ? c : x));
}

function verdict(c: EgressConnection): string {
  if (!c.allowed) return 'refused';
  if (c.error) return `failed: ${c.error}`;
  return c.open ? 'allowed, open' : 'allowed';
}

function policyWords(policy: Settings['environments'][number]['egress']): string {
  switch (policy) {
    case 'none':
      return 'Egress none: the session has no network at all (not even the API: for scripts).';
    case 'api':
      return 'Egress api: the session reaches only the API. To allow other hosts, switch the environment to allowlist.';
    case 'allowlist':
      return 'Egress allowlist: the session reaches the API and the hosts on its environment’s list.';
    case 'open':
      return 'Egress open: the session has the Docker network of its environment; Outpost sees none of its connections.';
  }
}
