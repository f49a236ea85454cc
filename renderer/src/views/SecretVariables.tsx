import { useState } from 'react';
import type { EnvironmentProfile, Settings } from '../../../shared/contract.js';
import { call } from '../api.js';
import { ErrorLine } from './ErrorLine.js';

/**
 * An environment's secret variables: names here, values in the keychain. A value is
 * typed once and never shown again; it reaches only the environment's session containers and is
 * redacted in every log. Added and removed at once, not with the form's Save: the keychain is not a draft.
 */
export function SecretVariables({ profile, onSettings }: { profile: EnvironmentProfile; onSettings: (s: Settings) => void }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [error, setError] = useState<string>();
  const environmentId = profile.environmentId;
  const secrets = profile.envVars.filter((v) => v.inKeychain);
  const others = profile.envVars.filter((v) => v.name !== name);

  const add = async () => {
    setError(undefined);
    try {
      // The name first: keys.set checks it with the contract; the settings then say the variable exists.
      await call('keys.set', { kind: 'env-var', environmentId, name, value });
      onSettings(await call('settings.update', { environment: { environmentId, envVars: [...others, { name, text: '', inKeychain: true }] } }));
      setName('');
      setValue('');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const remove = async (gone: string) => {
    setError(undefined);
    try {
      onSettings(await call('settings.update', { environment: { environmentId, envVars: profile.envVars.filter((v) => v.name !== gone) } }));
      await call('keys.clear', { kind: 'env-var', environmentId, name: gone });
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <fieldset className="secrets">
      <legend>Secret variables (values in the keychain, redacted in every log)</legend>
      {secrets.length > 0 && (
        <ul aria-label="Secret variables">
          {secrets.map((v) => (
            <li key={v.name}>
              <code>{v.name}</code> = ••••••
              <button type="button" onClick={() => void remove(v.name)} aria-label={`Remove ${v.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        </label>
        <label>
          Value
          <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
        </label>
        <button type="button" disabled={!name || !value} onClick={() => void add()}>
          Add secret
        </button>
      </div>
      <ErrorLine message={error} />
    </fieldset>
  );
}
