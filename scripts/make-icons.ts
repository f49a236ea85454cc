/**
 * Draws Outpost's icons (a ringed dot, one colour per tray state) as PNG files into build/.
 * Run after changing a colour: tsx scripts/make-icons.ts. The PNGs are committed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const COLOURS: Record<string, [number, number, number]> = {
  off: [140, 140, 140],
  idle: [46, 160, 67],
  busy: [31, 111, 235],
  paused: [210, 153, 34],
  error: [207, 34, 46],
};

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A filled dot inside a ring, antialiased by coverage. */
function icon(size: number, [r, g, b]: [number, number, number]): Buffer {
  const rows: Buffer[] = [];
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x + 0.5 - c, y + 0.5 - c) / c;
      const ring = d > 0.78 && d < 0.98 ? 1 : 0;
      const dot = d < 0.52 ? 1 : 0;
      const alpha = Math.max(ring, dot) * 255;
      row.set([r, g, b, alpha], 1 + x * 4);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

mkdirSync('build/tray', { recursive: true });
for (const [state, colour] of Object.entries(COLOURS)) {
  writeFileSync(`build/tray/${state}.png`, icon(16, colour));
  writeFileSync(`build/tray/${state}@2x.png`, icon(32, colour));
}
writeFileSync('build/icon.png', icon(512, COLOURS['busy']!));
console.log('wrote build/tray/*.png and build/icon.png');
