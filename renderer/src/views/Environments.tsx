import { useState, type FormEvent } from 'react';
import { environmentProfileSchema, type EnvironmentProfile, type EnvironmentSummary, type Settings } from '../../../shared/contract.js';
import type { EgressPolicy } from '../../../shared/egress.js';
import { ErrorLine } from './ErrorLine.js';
import { call, usePolled } from '../api.js';
import { Confirm } from './Confirm.js';
import { SecretVariables } from './SecretVariables.js';
import { EngineChoice, MachineChecks } from './ThisMachine.js';

/** Every environment the API key can see, which one this machine serves, their queues, and this machine's settings for each. */
export function Environments({ settings, onSettings, onError }: { settings: Settings; onSettings: (s: Settings) => void; onError: (m: string) => void }) {
  const [showArchived, setShowArchived] = useState(false);
  const [archiving, setArchiving] = useState<EnvironmentSummary>();
  const [editing, setEditing] = useState<string>();
  const [name, setName] = useState('');
  const list = usePolled(() => call('environments.list', { includeArchived: showArchived }), 15_000, [showArchived]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    call('environments.create', { name }).then(() => {
      setName('');
      list.reload();
    }, (e: Error) => onError(e.message));
  };
  // Only the fields the form edits: another window's (or a dashboard's) change to the rest stays.
  const saveProfile = (changes: ProfileChanges) =>
    call('settings.update', { environment: changes }).then((s) => {
      onSettings(s);
      setEditing(undefined);
    }, (e: Error) => onError(e.message));

  const setMachine = (patch: { desktopNotifications?: boolean; pauseOnBattery?: boolean }) => call('settings.update', patch).then(onSettings, (e: Error) => onError(e.message));

  return (
    <section>
      <div className="section-head">
        <h1>Environments</h1>
        <label className="toggle">
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> Show archived
        </label>
      </div>
      <ErrorLine message={list.error} />
      <table className="grid" aria-label="Environments">
        <thead>
          <tr>
            <th>Name</th>
            <th>ID</th>
            <th>Queue</th>
            <th>On this machine</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(list.value ?? []).map((env) => {
            const profile = settings.environments.find((p) => p.environmentId === env.id);
            const served = settings.servedEnvironmentId === env.id;
            return (
              <tr key={env.id} className={env.archivedAt ? 'archived' : ''}>
                <td>
                  {env.name} {!env.selfHosted && <span className="tag">cloud</span>} {env.archivedAt && <span className="tag">archived</span>}
                </td>
                <td>
                  <code>{env.id}</code>
                </td>
                <td>{env.selfHosted && !env.archivedAt ? <QueueStats environmentId={env.id} /> : '—'}</td>
                <td>{served ? <span className="tag served">served here</span> : profile ? 'configured' : '—'}</td>
                <td className="actions">
                  {profile && <button onClick={() => setEditing(editing === env.id ? undefined : env.id)}>Settings</button>}
                  {!env.archivedAt && (
                    <button className="danger" onClick={() => setArchiving(env)}>
                      Archive
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.value?.length === 0 && <p className="empty">No environments yet.</p>}
      {editing && <ProfileForm key={editing} profile={settings.environments.find((p) => p.environmentId === editing)!} onSave={saveProfile} onSettings={onSettings} onCancel={() => setEditing(undefined)} />}
      <form className="inline card" onSubmit={create}>
        <label>
          New self-hosted environment
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="my-laptop" required />
        </label>
        <button disabled={!name.trim()}>Create</button>
      </form>
      <div className="card">
        <h2>This machine</h2>
        <label className="toggle">
          <input type="checkbox" checked={settings.desktopNotifications} onChange={(e) => void setMachine({ desktopNotifications: e.target.checked })} /> Desktop notifications when a session fails or is lost,
          or the worker stops on an error such as a refused key (desktop app)
        </label>
        <label className="toggle">
          <input type="checkbox" checked={settings.pauseOnBattery} onChange={(e) => void setMachine({ pauseOnBattery: e.target.checked })} /> Claim nothing on battery:
          running sessions finish, and claiming resumes when this machine is plugged in
        </label>
        <EngineChoice settings={settings} onSettings={onSettings} />
        <MachineChecks title="Checks" />
      </div>
      {archiving && (
        <Confirm
          title={`Archive ${archiving.name}?`}
          body="Archived environments take no new sessions. This cannot be undone from Outpost."
          action="Archive"
          onCancel={() => setArchiving(undefined)}
          onConfirm={() => {
            const env = archiving;
            setArchiving(undefined);
            call('environments.archive', { environmentId: env.id }).then(list.reload, (e: Error) => onError(e.message));
          }}
        />
      )}
    </section>
  );
}

/** Depth, pending and workers polling, refreshed while it is on screen. */
function QueueStats({ environmentId }: { environmentId: string }) {
  const stats = usePolled(() => call('environments.stats', { environmentId }), 5000, [environmentId]);
  if (stats.error) return <span className="muted" title={stats.error}>unavailable</span>;
  if (!stats.value) return <span className="muted">…</span>;
  const { depth, pending, workersPolling } = stats.value;
  return (
    <span className="stats" data-testid={`stats-${environmentId}`}>
      {depth} queued · {pending} pending · {workersPolling} {workersPolling === 1 ? 'worker' : 'workers'}
    </span>
  );
}

type ProfileChanges = Pick<EnvironmentProfile, 'environmentId' | 'image' | 'networkMode' | 'egress' | 'allowHosts' | 'envVars' | 'mounts' | 'cpus' | 'memoryMb' | 'maxSessions'>;

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

function ProfileForm({ profile, onSave, onSettings, onCancel }: { profile: EnvironmentProfile; onSave: (p: ProfileChanges) => void; onSettings: (s: Settings) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState({
    image: profile.image,
    networkMode: profile.networkMode,
    egress: profile.egress,
    allowHosts: profile.allowHosts.join('\n'),
    envVars: profile.envVars
      .filter((v) => !v.inKeychain)
      .map((v) => `${v.name}=${v.text}`)
      .join('\n'),
    mounts: profile.mounts.map((m) => (m.target ? `${m.source}:${m.target}` : m.source)).join('\n'),
    cpus: String(profile.cpus),
    memoryMb: String(profile.memoryMb),
    maxSessions: String(profile.maxSessions),
  });
  const [error, setError] = useState<string>();
  const field = (key: keyof typeof draft, label: string, type = 'text') => (
    <label>
      {label}
      <input type={type} value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
    </label>
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = environmentProfileSchema.safeParse({
      ...profile,
      image: draft.image,
      networkMode: draft.networkMode,
      egress: draft.egress,
      allowHosts: draft.allowHosts.split(/[\s,]+/).filter(Boolean),
      // NAME=value a line (the value may hold =); the secret ones are kept as they are (their values are in the keychain).
      envVars: [
        ...lines(draft.envVars).map((line) => (line.includes('=') ? { name: line.slice(0, line.indexOf('=')), text: line.slice(line.indexOf('=') + 1) } : { name: line, text: '' })),
        ...profile.envVars.filter((v) => v.inKeychain),
      ],
      mounts: lines(draft.mounts).map((line) => {
        const [, source, target] = /^(.+?)(?::(\/.*))?$/.exec(line)!;
        return { source: source!, ...(target ? { target } : {}) };
      }),
      cpus: Number(draft.cpus),
      memoryMb: Number(draft.memoryMb),
      maxSessions: Number(draft.maxSessions),
    });
    if (parsed.success) {
      const { environmentId, image, networkMode, egress, allowHosts, envVars, mounts, cpus, memoryMb, maxSessions } = parsed.data;
      onSave({ environmentId, image, networkMode, egress, allowHosts, envVars, mounts, cpus, memoryMb, maxSessions });
    }
    else setError(parsed.error.issues.map((i) => `${i.path.join(' ')}: ${i.message}`).join('; '));
  };
  return (
    <form className="card profile" onSubmit={submit} aria-label={`Settings for ${profile.environmentId}`}>
      <h2>
        Settings for <code>{profile.environmentId}</code>
      </h2>
      <div className="fields">
        {field('image', 'Image')}
        <label>
          Egress
          <select value={draft.egress} onChange={(e) => setDraft({ ...draft, egress: e.target.value as EgressPolicy })}>
            <option value="allowlist">allowlist</option>
            <option value="api">the API only</option>
            <option value="none">none (scripts)</option>
            <option value="open">open (Docker network)</option>
          </select>
        </label>
        {field('networkMode', 'Network (open)')}
        <label className="wide">
          Allowlist (one per line: host or *.domain, with :port when not 443 or 80; address or range)
          <textarea rows={5} value={draft.allowHosts} onChange={(e) => setDraft({ ...draft, allowHosts: e.target.value })} />
        </label>
        <label className="wide">
          Variables (one per line: NAME=value)
          <textarea rows={3} value={draft.envVars} onChange={(e) => setDraft({ ...draft, envVars: e.target.value })} />
        </label>
        <label className="wide">
          Read-only folders (one per line: a host folder, or host:/path in the session; default /mnt/its-name)
          <textarea rows={2} value={draft.mounts} onChange={(e) => setDraft({ ...draft, mounts: e.target.value })} />
        </label>
        {field('cpus', 'CPUs per session', 'number')}
        {field('memoryMb', 'Memory per session (MiB)', 'number')}
        {field('maxSessions', 'Sessions at once', 'number')}
      </div>
      <SecretVariables profile={profile} onSettings={onSettings} />
      <ErrorLine message={error} />
      <p className="muted">Changes apply when the worker next starts; the allowlist, at the next session. Allowlist: the API and the hosts listed; none: not even the API (for scripts); open: the Docker network named.</p>
      <div className="row">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button className="primary">Save</button>
      </div>
    </form>
  );
}
