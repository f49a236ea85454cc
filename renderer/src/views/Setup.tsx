import { useEffect, useState, type FormEvent } from 'react';
import type { EnvironmentProfile, EnvironmentSummary, Settings } from '../../../shared/contract.js';
import { ErrorLine } from './ErrorLine.js';
import { call } from '../api.js';
import { MachineChecks } from './ThisMachine.js';

type Step = 'key' | 'environment' | 'environment-key';

/**
 * First run: the API key, an environment (picked or created), its environment key, then the worker starts.
 * Opened again (a notification of a refused key), it can be left with `onCancel`.
 */
export function Setup({ settings, onDone, onCancel }: { settings: Settings; onDone: () => void; onCancel?: () => void }) {
  const [step, setStep] = useState<Step>();
  const [environment, setEnvironment] = useState<EnvironmentSummary>();
  useEffect(() => {
    call('keys.status', { kind: 'api-key' }).then(
      (s) => setStep(s.set ? 'environment' : 'key'),
      () => setStep('key'),
    );
  }, []);
  return (
    <main className="setup">
      <h1>Set up Outpost</h1>
      <p className="lead">Outpost runs your agent sessions on this machine, each in its own Docker container.</p>
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Back to work
        </button>
      )}
      <ol className="steps">
        <li className={step === 'key' ? 'current' : ''}>API key</li>
        <li className={step === 'environment' ? 'current' : ''}>Environment</li>
        <li className={step === 'environment-key' ? 'current' : ''}>Start</li>
      </ol>
      {step === 'key' && <KeyStep apiBaseUrl={settings.apiBaseUrl} onDone={() => setStep('environment')} />}
      {step === 'environment' && (
        <EnvironmentStep
          onPick={(e) => {
            setEnvironment(e);
            setStep('environment-key');
          }}
        />
      )}
      {step === 'environment-key' && environment && (
        <StartStep
          environment={environment}
          // Keying an environment again keeps its network; a new one starts from Docker's default.
          networkMode={networkChoice(settings.environments.find((p) => p.environmentId === environment.id))}
          back={() => setStep('environment')}
          onDone={onDone}
        />
      )}
      {/* The first run checks this machine at once, and lists the checks only when one failed. */}
      {!onCancel && (
        <section className="card" aria-label="Checks of this machine before the first start">
          <MachineChecks auto />
        </section>
      )}
    </main>
  );
}

function useSubmit(action: () => Promise<void>) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    action()
      .catch((e: Error) => setError(e.message))
      .finally(() => setBusy(false));
  };
  return { error, busy, submit };
}

function KeyStep({ apiBaseUrl, onDone }: { apiBaseUrl: string; onDone: () => void }) {
  const [apiKey, setApiKey] = useState('');
  const [url, setUrl] = useState(apiBaseUrl);
  const { error, busy, submit } = useSubmit(async () => {
    await call('account.connect', { apiKey, apiBaseUrl: url });
    setApiKey('');
    onDone();
  });
  return (
    <form className="card" onSubmit={submit}>
      <h2>Your Anthropic API key</h2>
      <p>It lists and creates environments. Outpost keeps it in the system keychain and never sends it to a session.</p>
      <label>
        API key
        <input type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} placeholder="sk-ant-…" required />
      </label>
      <details>
        <summary>Advanced</summary>
        <label>
          API URL
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />
        </label>
      </details>
      <ErrorLine message={error} />
      <button className="primary" disabled={busy || apiKey.length === 0}>
        {busy ? 'Checking…' : 'Connect'}
      </button>
    </form>
  );
}

function EnvironmentStep({ onPick }: { onPick: (environment: EnvironmentSummary) => void }) {
  const [list, setList] = useState<EnvironmentSummary[]>();
  const [loadError, setLoadError] = useState<string>();
  const [name, setName] = useState('');
  useEffect(() => {
    call('environments.list', { includeArchived: false }).then(
      (all) => setList(all.filter((e) => e.selfHosted)),
      (e: Error) => setLoadError(e.message),
    );
  }, []);
  const { error, busy, submit } = useSubmit(async () => onPick(await call('environments.create', { name })));
  return (
    <div className="card">
      <h2>Which environment should this machine serve?</h2>
      <ErrorLine message={loadError} />
      {list === undefined && !loadError && <p>Loading environments…</p>}
      {list && list.length === 0 && <p>No self-hosted environments yet: create one below.</p>}
      {list && list.length > 0 && (
        <ul className="choices">
          {list.map((e) => (
            <li key={e.id}>
              <button onClick={() => onPick(e)}>
                <strong>{e.name}</strong> <code>{e.id}</code>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} className="inline">
        <label>
          New self-hosted environment
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="my-laptop" required />
        </label>
        <button disabled={busy || !name.trim()}>Create</button>
      </form>
      <ErrorLine message={error} />
    </div>
  );
}

function StartStep({ environment, networkMode, back, onDone }: { environment: EnvironmentSummary; networkMode: string; back: () => void; onDone: () => void }) {
  const [key, setKey] = useState('');
  const [network, setNetwork] = useState(networkMode);
  const { error, busy, submit } = useSubmit(async () => {
    // Fresh: connecting the key may have changed them since this view loaded.
    const current = await call('settings.get');
    // The profile first: the key is kept for its URL only (and sent nowhere else).
    // host and bridge are Docker networks (egress open); the others give sessions loopback and Outpost's proxy.
    const egress = network === 'host' || network === 'bridge' ? { egress: 'open' as const, networkMode: network } : { egress: network as 'allowlist' | 'api' | 'none' };
    await call('settings.update', { environment: { environmentId: environment.id, name: environment.name, baseUrl: current.apiBaseUrl, ...egress } });
    await call('keys.set', { kind: 'environment-key', environmentId: environment.id, value: key });
    await call('settings.update', { servedEnvironmentId: environment.id });
    await call('worker.start');
    onDone();
  });
  return (
    <form className="card" onSubmit={submit}>
      <h2>
        Serve <em>{environment.name}</em>
      </h2>
      <p>
        Paste the environment key of <code>{environment.id}</code>. The worker uses it to claim sessions; it is kept in the keychain.
      </p>
      <label>
        Environment key
        <input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
      </label>
      <label>
        Container network
        <select value={network} onChange={(e) => setNetwork(e.target.value)}>
          <option value="allowlist">allowlist: the API and package hosts (npm, PyPI, GitHub)</option>
          <option value="api">the API only</option>
          <option value="none">none (for scripts: sessions cannot reach the API)</option>
          <option value="bridge">open: Docker’s bridge (reaches everything)</option>
          <option value="host">open: host network</option>
        </select>
      </label>
      <ErrorLine message={error} />
      <div className="row">
        <button type="button" onClick={back}>
          Back
        </button>
        <button className="primary" disabled={busy || key.length === 0}>
          {busy ? 'Starting…' : 'Start serving'}
        </button>
      </div>
    </form>
  );
}

/** What the network choice shows for a profile set up before: its egress policy, or for open its Docker network; new ones start on allowlist. */
function networkChoice(profile: EnvironmentProfile | undefined): string {
  if (!profile) return 'allowlist';
  return profile.egress === 'open' ? profile.networkMode : profile.egress;
}
