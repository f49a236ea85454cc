/**
 * A stand-in for an unpacked Electron distribution (linux-x64), for electron-builder's
 * `electronDist` option: packing with it needs no download and no Electron binary (DESIGN §3).
 * electron-builder 26.17 copies such a folder as it is (app-builder-lib ElectronFramework.js, "custom
 * unpacked Electron distribution"), renames `electron` to the app's executable, keeps `LICENSE` as
 * `LICENSE.electron.txt`, writes resources/app.asar, then flips the fuses in the executable.
 *
 * So the stand-in's `electron` is a script that refuses to run, carrying a fuse wire as Electron
 * embeds one: the sentinel @electron/fuses searches for (its src/constants.ts), the wire's version
 * (1), its length, then one byte per fuse, '0' or '1', in FuseV1Options' order, set as Electron
 * ships them (electron/electron build/fuses/fuses.json5): run as node on, cookie encryption off,
 * NODE_OPTIONS on, inspect arguments on, ASAR integrity off, only-from-ASAR off, browser V8
 * snapshot off, file:// privileges on. What @electron/fuses writes there is what it would write into
 * a real binary.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
export const ELECTRON_DEFAULT_FUSES = '10110001';

export function makeElectronDist(dir: string, version: string): string {
  mkdirSync(join(dir, 'resources'), { recursive: true });
  mkdirSync(join(dir, 'locales'), { recursive: true });
  const wire = Buffer.concat([Buffer.from(FUSE_SENTINEL), Buffer.from([1, ELECTRON_DEFAULT_FUSES.length]), Buffer.from(ELECTRON_DEFAULT_FUSES)]);
  const script = Buffer.from('#!/bin/sh\necho "a stand-in for Electron (Outpost\'s packaged-app test): it runs nothing" >&2\nexit 1\n# fuse wire: ');
  writeFileSync(join(dir, 'electron'), Buffer.concat([script, wire, Buffer.from('\n')]));
  chmodSync(join(dir, 'electron'), 0o755);
  writeFileSync(join(dir, 'LICENSE'), 'Electron’s license would be here.\n');
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<p>Chromium’s licenses would be here.</p>\n');
  writeFileSync(join(dir, 'version'), `${version}\n`);
  return dir;
}
