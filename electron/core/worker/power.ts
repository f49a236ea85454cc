import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether the machine runs on battery, and a word when that changes. The desktop app
 * gives Electron's powerMonitor; a headless Linux worker reads the kernel's power supplies.
 */
export interface PowerSource {
  onBattery(): boolean;
  /** Called with the new state each time it changes; returns the unsubscribe. */
  subscribe(listener: (onBattery: boolean) => void): () => void;
}

/**
 * The power supply state as Linux keeps it (/sys/class/power_supply/<name>/{type,online,status}):
 * on battery when no mains (or USB) supply is online and a battery is discharging. A machine with
 * no battery (a server, a desktop) is never on battery. Polled: sysfs sends no events to read.
 */
export class LinuxPowerSupply implements PowerSource {
  readonly #dir: string;
  readonly #everyMs: number;
  readonly #listeners = new Set<(onBattery: boolean) => void>();
  #timer: NodeJS.Timeout | undefined;
  #last: boolean;

  constructor(dir = '/sys/class/power_supply', everyMs = 5_000) {
    this.#dir = dir;
    this.#everyMs = everyMs;
    this.#last = this.onBattery();
  }

  onBattery(): boolean {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return false; // No power supply class: not a laptop.
    }
    const read = (name: string, field: string) => {
      try {
        return readFileSync(join(this.#dir, name, field), 'utf8').trim();
      } catch {
        return '';
      }
    };
    let mains = false;
    let discharging = false;
    for (const name of names) {
      const type = read(name, 'type');
      // USB, USB_C, USB_PD…: a laptop charging over USB-C is on power too.
      if ((type === 'Mains' || type.startsWith('USB')) && read(name, 'online') === '1') mains = true;
      if (type === 'Battery' && read(name, 'status') === 'Discharging') discharging = true;
    }
    return discharging && !mains;
  }

  subscribe(listener: (onBattery: boolean) => void): () => void {
    this.#listeners.add(listener);
    this.#timer ??= setInterval(() => this.#check(), this.#everyMs).unref();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) (clearInterval(this.#timer), (this.#timer = undefined));
    };
  }

  #check(): void {
    const now = this.onBattery();
    if (now === this.#last) return;
    this.#last = now;
    for (const listener of this.#listeners) listener(now);
  }
}
