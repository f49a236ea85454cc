import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logs/log.js';

/** A day: the feed is asked at start, then daily while Outpost runs. */
export const CHECK_EVERY_MS = 24 * 60 * 60 * 1000;

/** What Outpost uses of electron-updater's AppUpdater (its autoUpdater), so that tests can stand in for it. */
export interface Updater {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  logger: unknown;
  on(event: 'update-available' | 'update-downloaded', listener: (info: { version: string }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  checkForUpdates(): Promise<unknown>;
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
}

/**
 * What this copy of Outpost does about updates:
 * - `install`: download in the background, verify, and offer "Restart to update" in the tray (NSIS on Windows, an AppImage);
 * - `notify`: only say in the tray that a version is out (installed by a package manager: deb, rpm, pacman; an unsigned macOS app);
 * - `off`: nothing, and why.
 */
export type UpdateMode = { kind: 'install' } | { kind: 'notify'; why: string } | { kind: 'off'; why: string };

export interface UpdateHost {
  isPackaged: boolean;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** electron-builder's `resources/package-type` (deb, rpm, pacman) when the app was packed as one; undefined otherwise. */
  packageType: string | undefined;
}

/**
 * Per packing, as electron-builder documents its auto-updatable targets (https://www.electron.build/auto-update:
 * macOS DMG — and the app must be signed, or Squirrel.Mac refuses it —, Windows NSIS, Linux AppImage, deb, rpm, pacman).
 */
export function updateMode(host: UpdateHost): UpdateMode {
  // electron-updater's own isUpdaterActive() refuses too (it would look for dev-app-update.yml): say so once instead.
  if (!host.isPackaged) return { kind: 'off', why: 'a development run (not packaged): updates are checked only by a packed Outpost' };
  if (host.platform === 'darwin') {
    // Squirrel.Mac installs only a signed app, from a .zip, and checks the signature only after the click —
    // once Outpost has closed its core (MacUpdater.js): an unsigned build would quit and not come back.
    return { kind: 'notify', why: 'macOS: an update installs in place only for a signed app, which this build is not: a new version is announced in the tray, to download as this one was' };
  }
  if (host.platform !== 'linux') return { kind: 'install' };
  if (host.env['SNAP']) return { kind: 'off', why: 'a snap: the Snap Store updates it' };
  if (host.packageType === 'deb' || host.packageType === 'rpm' || host.packageType === 'pacman') {
    // electron-updater can install these (DebUpdater, RpmUpdater, PacmanUpdater: dpkg -i / rpm / pacman -U run
    // through pkexec or sudo, a .deb unsigned but for the feed's sha512). The system's package manager owns
    // the files, and a tray app asking for root is not how those users update: Outpost says a version is out.
    return { kind: 'notify', why: `installed as a .${host.packageType} package: a new version is announced in the tray, to install with the package manager` };
  }
  // AppImageUpdater replaces the file named by $APPIMAGE, which the AppImage runtime sets.
  if (!host.env['APPIMAGE']) return { kind: 'off', why: 'not run as an AppImage ($APPIMAGE unset): nothing this process could replace' };
  return { kind: 'install' };
}

/** electron-builder's package-type file beside the app (FpmTarget writes it for deb, rpm, pacman). */
export function packageTypeIn(resourcesPath: string | undefined): string | undefined {
  if (!resourcesPath) return undefined;
  try {
    return readFileSync(join(resourcesPath, 'package-type'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What the tray shows of updates: a version downloaded and verified (ready), or one announced only. */
export interface UpdateOffer {
  version: string;
  ready: boolean;
}

export interface UpdatesDeps {
  mode: UpdateMode;
  /** Called only in a mode that is not off: electron-updater's autoUpdater is made on first use. */
  updater: () => Updater;
  logger: Logger;
  /** Told when the offer changes: the tray renders it. */
  onChange: (offer: UpdateOffer | undefined) => void;
  every?: number;
}

/**
 * Outpost's updates: checked at start and daily, downloaded in the background, installed only when
 * the user clicks "Restart to update" in the tray. electron-updater verifies the download against the
 * sha512 the feed's latest*.yml gives (builder-util-runtime's DigestTransform, ERR_CHECKSUM_MISMATCH)
 * before it emits update-downloaded: a file that does not match is never offered. Every failure —
 * no network, no feed, a refused file — is a line in the log, never a dialog.
 */
export class Updates {
  #offer: UpdateOffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #updater: Updater | undefined;
  #installing = false;

  constructor(private readonly deps: UpdatesDeps) {}

  get offer(): UpdateOffer | undefined {
    return this.#offer;
  }

  start(): void {
    const { mode, logger } = this.deps;
    if (mode.kind === 'off') {
      logger.info(`updates: off, ${mode.why}`);
      return;
    }
    if (mode.kind === 'notify') logger.info(`updates: ${mode.why}`);
    let updater: Updater;
    try {
      updater = this.#updater = this.deps.updater();
    } catch (e) {
      logger.warn(`updates: off, the updater could not start: ${(e as Error).message}`);
      return;
    }
    // Nothing installs without the user's click: not at quit either (electron-updater's default would
    // run the installer whenever Outpost quits after a download, sessions or not).
    updater.autoInstallOnAppQuit = false;
    updater.autoDownload = mode.kind === 'install';
    // electron-updater's own chatter (staging ids, progress) stays out of the log; its errors come through 'error'.
    updater.logger = null;
    updater.on('update-available', (info) => {
      const version = shownVersion(info.version);
      logger.info(`updates: version ${version} is out${mode.kind === 'install' ? ', downloading' : ''}`);
      if (mode.kind === 'notify') this.#set({ version, ready: false });
    });
    updater.on('update-downloaded', (info) => {
      const version = shownVersion(info.version);
      logger.info(`updates: version ${version} downloaded and its sha512 matches the feed's; it installs when you choose “Restart to update” in the tray`);
      this.#set({ version, ready: true });
    });
    updater.on('error', (error) => logger.warn(`updates: ${describeUpdateError(error)}`));
    this.check();
    this.#timer = setInterval(() => this.check(), this.deps.every ?? CHECK_EVERY_MS);
    this.#timer.unref();
  }

  /** Asks the feed; never throws (the 'error' event has logged why). */
  check(): void {
    // With autoDownload the result carries the download's promise: its failure is the 'error' event's too.
    this.#updater
      ?.checkForUpdates()
      .then((result) => (result as { downloadPromise?: Promise<unknown> | null } | null)?.downloadPromise?.catch(() => {}))
      .catch(() => {});
  }

  /**
   * The user clicked "Restart to update": the installer runs and Outpost restarts. False when nothing is ready.
   * Once only: electron-updater refuses a second quitAndInstall but then clears its own guard, so a third
   * ran the AppImage installer again — which unlinks $APPIMAGE, by then the new version, and finds nothing to move.
   */
  install(): boolean {
    if (this.#installing) return true;
    if (!this.#updater || !this.#offer?.ready) return false;
    this.#installing = true;
    this.deps.logger.info(`updates: installing version ${this.#offer.version} and restarting`);
    try {
      // Not silent on Windows (the NSIS installer shows its progress), and Outpost runs again after it.
      this.#updater.quitAndInstall(false, true);
      return true;
    } catch (e) {
      this.#installing = false;
      this.deps.logger.warn(`updates: could not install version ${this.#offer.version}: ${(e as Error).message}`);
      return false;
    }
  }

  dispose(): void {
    clearInterval(this.#timer);
  }

  #set(offer: UpdateOffer): void {
    this.#offer = offer;
    this.deps.onChange(offer);
  }
}

/**
 * The feed's version as the tray and the log show it. electron-updater checks it with semver's parse,
 * which trims first, and passes on the untrimmed string: the feed's newlines would land in both.
 * Semver allows 256 characters of prerelease and build tags; a menu item needs fewer.
 */
function shownVersion(version: string): string {
  const trimmed = String(version).trim();
  return trimmed.length > 64 ? `${trimmed.slice(0, 64)}…` : trimmed;
}

/** Every address in `text` without its user, password, query and fragment: a feed's address may carry a token, and electron-updater's messages quote it whole. */
const withoutCredentials = (text: string): string => text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)(?:[^\s/?#@]*@)?([^\s?#"'()]*)(?:[?#][^\s"'()]*)?/gi, '$1$2');

/** An update failure in words, for the log. */
export function describeUpdateError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const status = (error as { statusCode?: number }).statusCode;
  const first = withoutCredentials(String(error.message).split(/[\r\n\u2028\u2029]/)[0]!).slice(0, 300);
  if (code === 'ERR_CHECKSUM_MISMATCH') return `the downloaded update was refused: it does not match the sha512 the feed gives (${first})`;
  if (code === 'ERR_UPDATER_INVALID_SIGNATURE') return `the downloaded update was refused: its code signature is not the publisher's (${first})`;
  if (code && ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'].includes(code)) {
    return `could not reach the update feed (${code}: no network, or the feed's address is wrong); trying again tomorrow`;
  }
  if (/net::ERR_/.test(first)) return `could not reach the update feed (${/net::ERR_[A-Z_]+/.exec(first)![0]}); trying again tomorrow`;
  if (status === 404 || /\b404\b/.test(first)) return `the update feed has no such file (404): ${first}`;
  if (status) return `the update feed answered ${status}: ${first}`;
  return `the update check failed: ${first}`;
}
