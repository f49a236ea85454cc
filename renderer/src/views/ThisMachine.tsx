import { useEffect, useState } from 'react';
import type { EngineFound, EngineReport, MachineCheck, Settings } from '../../../shared/contract.js';
import { call } from '../api.js';
import { ErrorLine } from './ErrorLine.js';

/**
 * The Docker engine this Outpost uses — kind, version, rootless or not, how it was found — what it
 * cannot enforce of the sessions' limits, and every other engine found here, one of which the user may pick.
 */
export function EngineChoice({ settings, onSettings }: { settings: Settings; onSettings: (s: Settings) => void }) {
  const [report, setReport] = useState<EngineReport>();
  const [error, setError] = useState<string>();
  const load = () =>
    call('engine.describe').then(
      (r) => (setReport(r), setError(undefined)),
      (e: Error) => setError(e.message),
    );
  // Chosen at once (arrow keys walk a radio group, choosing as they go), saved behind.
  const [chosen, setChosen] = useState(settings.dockerHost);
  useEffect(() => {
    setChosen(settings.dockerHost);
    void load();
  }, [settings.dockerHost]);
  const pick = (dockerHost: string) => {
    setChosen(dockerHost);
    call('settings.update', { dockerHost }).then(onSettings, (e: Error) => setError(e.message));
  };

  const inUse = report?.inUse;
  const unenforced = inUse?.engine?.unenforced ?? [];
  // A setting naming an engine not found now (typed into settings.json, or gone since) is still shown, and still chosen.
  const offered = report && settings.dockerHost && !report.found.some((f) => f.host === settings.dockerHost) ? [...report.found, { host: settings.dockerHost, foundBy: 'the Docker engine setting' }] : (report?.found ?? []);
  return (
    <div className="engine" aria-labelledby="engine-heading" role="group">
      <h3 id="engine-heading">Docker engine</h3>
      <ErrorLine message={error} />
      {!report && !error && <p className="muted">Asking the engine…</p>}
      {report?.problem && <p className="error" role="alert">{report.problem}</p>}
      {inUse && (
        <p data-testid="engine-line">
          {inUse.line ?? `${inUse.host}, found by ${inUse.foundBy}: ${inUse.error ?? 'no answer'}. Start it, or pick another engine below.`}
        </p>
      )}
      {unenforced.length > 0 && (
        <div className="warning-box" data-testid="engine-unenforced">
          <strong>This engine cannot enforce the sessions’ limits:</strong>
          <ul>
            {unenforced.map((u) => (
              <li key={u}>{u}</li>
            ))}
          </ul>
          Sessions run, unbounded by what is named.
        </div>
      )}
      {report && (
        <fieldset className="engines">
          <legend>The engine Outpost uses</legend>
          <label>
            <input type="radio" name="docker-host" checked={chosen === ''} onChange={() => pick('')} /> Automatic: as the docker CLI finds it (DOCKER_HOST, the current context, a desktop
            engine’s socket)
          </label>
          {offered.map((f) => (
            <label key={f.host}>
              <input type="radio" name="docker-host" checked={chosen === f.host} onChange={() => pick(f.host)} /> <EngineOption found={f} inUse={f.host === inUse?.host} />
            </label>
          ))}
        </fieldset>
      )}
      {report?.settingPending && (
        <p className="muted" role="status">
          Saved. Outpost uses the engine chosen when it next opens: quit it and open it again.
        </p>
      )}
    </div>
  );
}

function EngineOption({ found, inUse }: { found: EngineFound; inUse: boolean }) {
  return (
    <span>
      <code>{found.host}</code> {found.engine ? `${found.engine.kind} ${found.engine.version}${found.engine.rootless ? ' (rootless)' : ''}` : found.error ? `— ${found.error}` : ''}
      {inUse && (
        <>
          {' '}
          <span className="tag served">in use</span>
        </>
      )}
    </span>
  );
}

/**
 * `outpost doctor`'s checks, run by the core: each ✔, ✘ with its fix, or – not run. `auto` (the first
 * run) runs them at once and lists them only when one failed; otherwise they run on *Check this machine*.
 */
export function MachineChecks({ auto = false, title = 'This machine' }: { auto?: boolean; title?: string }) {
  const [checks, setChecks] = useState<MachineCheck[]>();
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string>();
  const [expanded, setExpanded] = useState(!auto);
  const run = () => {
    setRunning(true);
    setError(undefined);
    call('machine.check')
      .then(setChecks, (e: Error) => setError(e.message))
      .finally(() => setRunning(false));
  };
  useEffect(() => {
    if (auto) run();
  }, [auto]);
  const failed = checks?.filter((c) => c.status === 'fail').length ?? 0;
  const shown = checks && (expanded || failed > 0);
  return (
    <div className="machine-checks" role="group" aria-labelledby="checks-heading">
      <h3 id="checks-heading">{auto && failed > 0 ? `${title} needs attention` : title}</h3>
      <div aria-live="polite">
        {running && <p className="muted">Checking this machine: the engine, the session image, a session container, its workspace and egress, the keychain…</p>}
        {!running && checks && (
          <p data-testid="checks-summary">
            {failed === 0 ? '✔ This machine passed every check.' : `✘ ${failed} ${failed === 1 ? 'check' : 'checks'} failed: each says what to do.`}
          </p>
        )}
      </div>
      <ErrorLine message={error} />
      {shown && (
        <ul className="checks" aria-label="Checks of this machine">
          {checks.map((c) => (
            <li key={c.topic + c.line} className={`check ${c.status}`} data-topic={c.topic} data-status={c.status}>
              <span className="mark" role="img" aria-label={c.status === 'ok' ? 'passed' : c.status === 'fail' ? 'failed' : 'not run'}>
                {c.status === 'ok' ? '✔' : c.status === 'fail' ? '✘' : '–'}
              </span>
              <span>
                {c.line}
                {c.fix && <span className="fix">{c.fix}</span>}
              </span>
            </li>
          ))}
        </ul>
      )}
      <div className="row start">
        {auto && checks && failed === 0 && (
          <button type="button" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
            {expanded ? 'Hide the checks' : 'Show the checks'}
          </button>
        )}
        {(!auto || checks) && (
          <button type="button" onClick={run} disabled={running}>
            {running ? 'Checking…' : checks ? 'Check again' : 'Check this machine'}
          </button>
        )}
      </div>
    </div>
  );
}
