import { useEffect, useRef, useState } from 'react';
import type { HistoryEntry, Response } from '../../../shared/contract.js';
import type { ItemState } from '../../../shared/states.js';
import { call, usePolled } from '../api.js';
import { END_LABEL, endKind } from '../ending.js';
import { bytes, clock, duration, short } from '../format.js';
import type { Route } from '../route.js';

/** What runs now (state, age, CPU, memory, Stop) and what ran (kept across restarts). */
export function Work({ items, historyVersion, open, onError }: { items: ItemState[]; historyVersion: number; open: (r: Route) => void; onError: (m: string) => void }) {
  const now = useNow(1000);
  const usage = usePolled(() => call('items.usage'), 2000, [items.length]);
  // A stopping container may miss a reading: its last one stays on screen (marked) instead of "—".
  const lastUsage = useRef(new Map<string, Response<'items.usage'>[number]>());
  for (const u of usage.value ?? []) lastUsage.current.set(u.workId, u);
  const history = usePolled(() => call('history.list'), 30_000, [historyVersion]);
  const [stopping, setStopping] = useState<Set<string>>(new Set());
  const stop = (workId: string) => {
    setStopping((s) => new Set(s).add(workId));
    call('items.stop', { workId }).catch((e: Error) => onError(e.message));
  };
  const logOf = (environmentId: string, workId: string, subjectId: string) => open({ view: 'log', source: { kind: 'session', environmentId, workId }, title: subjectId });

  return (
    <section>
      <h1>Running now</h1>
      {items.length === 0 ?
        <p className="empty">Nothing is running. Sessions appear here as soon as this machine claims them.</p>
      : <table className="grid" aria-label="Running now">
          <thead>
            <tr>
              <th>State</th>
              <th>Kind</th>
              <th>Session</th>
              <th>Running for</th>
              <th>CPU</th>
              <th>Memory</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {[...items]
              .sort((a, b) => a.claimedAt - b.claimedAt)
              .map((item) => {
                const fresh = usage.value?.find((x) => x.workId === item.workId);
                const u = fresh ?? lastUsage.current.get(item.workId);
                const stale = !fresh && u ? { className: 'muted', title: 'the last reading' } : {};
                return (
                  <tr key={item.workId} data-work-id={item.workId}>
                    <td>
                      <span className={`state ${item.status}`}>{item.status}</span>
                    </td>
                    <td>{item.kind}</td>
                    <td>
                      <code title={item.subjectId}>{short(item.subjectId, 24)}</code>
                    </td>
                    <td>{duration(now - item.claimedAt)}</td>
                    <td {...stale}>{u ? `${u.cpuPercent.toFixed(0)}%` : '—'}</td>
                    <td {...stale}>{u ? bytes(u.memoryBytes) : '—'}</td>
                    <td className="actions">
                      {item.logFile && <button onClick={() => logOf(item.environmentId, item.workId, item.subjectId)}>Logs</button>}
                      {item.kind !== 'healthcheck' && <button onClick={() => open({ view: 'network', workId: item.workId, environmentId: item.environmentId })}>Network</button>}
                      <button className="danger" disabled={stopping.has(item.workId) || item.status === 'stopping'} onClick={() => stop(item.workId)}>
                        Stop
                      </button>
                    </td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      }
      <h1>History</h1>
      {history.value?.length === 0 && <p className="empty">Finished sessions are listed here, with their logs and files.</p>}
      {history.value && history.value.length > 0 && <History entries={history.value} logOf={logOf} open={open} />}
    </section>
  );
}

function History({ entries, logOf, open }: { entries: HistoryEntry[]; logOf: (environmentId: string, workId: string, subjectId: string) => void; open: (r: Route) => void }) {
  return (
    <table className="grid" aria-label="History">
      <thead>
        <tr>
          <th>Result</th>
          <th>Kind</th>
          <th>Session</th>
          <th>Ended</th>
          <th>Took</th>
          <th>Why it ended</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => {
          const end = endKind(e.status, e.reason);
          return (
            <tr key={e.workId} data-work-id={e.workId}>
              <td>
                <span className={`state end-${end}`} data-end={end}>
                  <span aria-hidden="true">{END_LABEL[end].symbol}</span> {END_LABEL[end].words}
                </span>
              </td>
              <td>{e.kind}</td>
              <td>
                <code title={e.subjectId}>{short(e.subjectId, 24)}</code>
              </td>
              <td>{clock(e.endedAt)}</td>
              <td>{duration(e.endedAt - e.claimedAt)}</td>
              <td className="reason" title={e.reason}>
                {e.reason ?? (e.exitCode !== undefined ? `exit ${e.exitCode}` : '')}
              </td>
              <td className="actions">
                {e.hasLog && <button onClick={() => logOf(e.environmentId, e.workId, e.subjectId)}>Logs</button>}
                {e.kind !== 'healthcheck' && <button onClick={() => open({ view: 'workspace', workId: e.workId, environmentId: e.environmentId })}>Files</button>}
                {e.kind !== 'healthcheck' && <button onClick={() => open({ view: 'network', workId: e.workId, environmentId: e.environmentId })}>Network</button>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
