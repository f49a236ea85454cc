import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { environmentProfileSchema, settingsSchema, type Settings, type SettingsPatch } from '../../../shared/contract.js';

export interface LoadedSettings {
  settings: Settings;
  /** Set when the file on disk could not be used: where it was kept, and why. */
  problem?: string;
}

/**
 * Settings in the user-data folder, checked against the contract's schema. A file that
 * does not parse is kept aside (settings.json.corrupt-TIMESTAMP) and reported — never
 * silently reset. Keys never live here: they are in the keychain.
 */
export class SettingsStore {
  readonly file: string;

  constructor(folder: string) {
    this.file = join(folder, 'settings.json');
  }

  load(): LoadedSettings {
    if (!existsSync(this.file)) return { settings: settingsSchema.parse({}) };
    let reason: string;
    try {
      // A BOM is how some editors save UTF-8: it is not damage.
      const text = readFileSync(this.file, 'utf8').replace(/^\uFEFF/, '');
      const parsed = settingsSchema.safeParse(JSON.parse(text));
      if (parsed.success) return { settings: parsed.data };
      reason = z.prettifyError(parsed.error);
    } catch (e) {
      const error = e as NodeJS.ErrnoException;
      reason = error.code ? `it cannot be read: ${error.code}` : `not JSON (${error.message})`;
    }
    const why = reason.split('\n').join(' ');
    const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, aside);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      return { settings: settingsSchema.parse({}), problem: `Your settings file could not be read (${why}) nor moved aside (${code}): ${this.file}. Outpost started with default settings and cannot save them until it is fixed.` };
    }
    return {
      settings: settingsSchema.parse({}),
      problem: `Your settings file could not be read (${why}). It was kept as ${aside}; Outpost started with default settings.`,
    };
  }

  /**
   * Apply a patch to what is on disk now, not to a copy read earlier: another process on the same
   * data folder (a dashboard, a headless worker) may have changed other fields since.
   */
  update(patch: SettingsPatch): Settings {
    const { environment, ...fields } = patch;
    const current = this.load().settings;
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    let environments = current.environments;
    if (environment) {
      const existing = environments.find((e) => e.environmentId === environment.environmentId);
      const changed = Object.fromEntries(Object.entries(environment).filter(([, v]) => v !== undefined));
      const profile = environmentProfileSchema.parse({ ...existing, ...changed });
      environments = existing ? environments.map((e) => (e === existing ? profile : e)) : [...environments, profile];
    }
    return this.save({ ...current, ...defined, environments });
  }

  save(settings: Settings): Settings {
    const valid = settingsSchema.parse(settings);
    mkdirSync(dirname(this.file), { recursive: true });
    // Write then rename: a crash mid-write leaves the old file, not half a new one.
    const temp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(temp, JSON.stringify(valid, null, 2) + '\n', { mode: 0o600 });
    renameSync(temp, this.file);
    return valid;
  }
}
