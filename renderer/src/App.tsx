import { useCallback, useEffect, useState } from 'react';
import type { OpenView, Settings } from '../../shared/contract.js';
import { isTerminal, type ItemState, type WorkerState } from '../../shared/states.js';
import { call, useServiceEvents } from './api.js';
import { rememberedRoute, rememberRoute } from './remember.js';
import type { Route } from './route.js';
import { Environments } from './views/Environments.js';
import { LogView } from './views/LogView.js';
import { Network } from './views/Network.js';
import { Setup } from './views/Setup.js';
import { WorkerControls } from './views/WorkerControls.js';
import { Work } from './views/Work.js';
import { Workspace } from './views/Workspace.js';

type Notice = { level: 'info' | 'warning' | 'error'; message: string; at: number };

export function App() {
  const [settings, setSettings] = useState<Settings>();
  const [worker, setWorker] = useState<WorkerState>({ status: 'off' });
  const [items, setItems] = useState<ItemState[]>([]);
  const [route, setRoute] = useState<Route>(rememberedRoute);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [historyVersion, setHistoryVersion] = useState(0);

  const notify = useCallback((level: Notice['level'], message: string) => setNotices((n) => [...n.slice(-3), { level, message, at: Date.now() }]), []);
  const refresh = useCallback(async () => {
    const [s, w, i] = await Promise.all([call('settings.get'), call('worker.state'), call('items.list')]);
    setSettings(s);
    setWorker(w);
    setItems(i);
  }, []);
  useEffect(() => {
    refresh().catch((e: Error) => notify('error', e.message));
  }, [refresh, notify]);
  useEffect(() => rememberRoute(route), [route]);

  useServiceEvents((event) => {
    if (event.name === 'worker-state') setWorker(event.payload);
    else if (event.name === 'notice') notify(event.payload.level, event.payload.message);
    else if (event.name === 'open-view') setRoute(routeFor(event.payload));
    else if (event.name === 'item-state') {
      const item = event.payload;
      setItems((list) => [...list.filter((i) => i.workId !== item.workId), item]);
      if (isTerminal(item.status)) setHistoryVersion((v) => v + 1);
    }
  });

  // Nothing loaded yet: what went wrong, if something did (a dashboard page opened without its token).
  if (!settings) return <main className="loading">{notices.findLast((n) => n.level === 'error')?.message ?? 'Connecting to Outpost…'}</main>;
  if (!settings.servedEnvironmentId) return <Setup settings={settings} onDone={() => void refresh()} />;
  if (route.view === 'setup') {
    const back = () => setRoute({ view: 'work' });
    return <Setup settings={settings} onDone={() => void refresh().then(back)} onCancel={back} />;
  }

  const nav = (to: Route['view'], label: string) => (
    <button className={route.view === to ? 'nav active' : 'nav'} aria-current={route.view === to ? 'page' : undefined} onClick={() => setRoute(to === 'work' || to === 'environments' ? { view: to } : { view: 'work' })}>
      {label}
    </button>
  );
  const active = items.filter((i) => !isTerminal(i.status));
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Outpost</span>
        <nav aria-label="Views">
          {nav('work', `Work${active.length ? ` (${active.length})` : ''}`)}
          {nav('environments', 'Environments')}
          <button
            className={route.view === 'log' && route.source.kind === 'app' ? 'nav active' : 'nav'}
            aria-current={route.view === 'log' && route.source.kind === 'app' ? 'page' : undefined}
            onClick={() => setRoute({ view: 'log', source: { kind: 'app' }, title: 'Outpost’s log' })}>
            App log
          </button>
        </nav>
        <WorkerControls state={worker} served={settings.servedEnvironmentId} onError={(m) => notify('error', m)} />
      </header>
      {notices.length > 0 && (
        <ul className="notices" aria-live="polite">
          {notices.map((n) => (
            <li key={n.at} className={`notice ${n.level}`}>
              <span>{n.message}</span>
              <button aria-label="Dismiss" onClick={() => setNotices((all) => all.filter((x) => x !== n))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <main className="content">
        {route.view === 'work' && <Work items={active} historyVersion={historyVersion} open={setRoute} onError={(m) => notify('error', m)} />}
        {route.view === 'environments' && <Environments settings={settings} onSettings={setSettings} onError={(m) => notify('error', m)} />}
        {route.view === 'log' && <LogView key={JSON.stringify(route.source)} source={route.source} title={route.title} back={() => setRoute({ view: 'work' })} />}
        {route.view === 'workspace' && <Workspace workId={route.workId} environmentId={route.environmentId} back={() => setRoute({ view: 'work' })} />}
        {route.view === 'network' && <Network workId={route.workId} environmentId={route.environmentId} settings={settings} onSettings={setSettings} back={() => setRoute({ view: 'work' })} />}
      </main>
    </div>
  );
}

/** The route a desktop notification asks for. */
function routeFor(view: OpenView): Route {
  if (view.view === 'log') return { view: 'log', source: { kind: 'session', environmentId: view.environmentId, workId: view.workId }, title: view.title };
  return view;
}
