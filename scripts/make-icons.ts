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

/** Whether a point (centred, in units of the radius: -1…1) is painted. */
type Shape = (x: number, y: number) => boolean;

const ring = (x: number, y: number) => Math.hypot(x, y) > 0.78 && Math.hypot(x, y) < 0.98;
const ringAndDot: Shape = (x, y) => ring(x, y) || Math.hypot(x, y) < 0.52;

/**
 * macOS's menu bar shows template images (black and alpha, named …Template.png): it tints them for
 * a light or dark bar, so the states differ by shape, not colour — off an empty ring, idle a small
 * dot, busy a large one, paused two bars, error a cross.
 */
const TEMPLATE_SHAPES: Record<string, Shape> = {
  off: ring,
  idle: (x, y) => ring(x, y) || Math.hypot(x, y) < 0.3,
  busy: ringAndDot,
  paused: (x, y) => ring(x, y) || (Math.abs(y) < 0.42 && Math.abs(Math.abs(x) - 0.2) < 0.1),
  error: (x, y) => ring(x, y) || (Math.hypot(x, y) < 0.5 && (Math.abs(x - y) < 0.16 || Math.abs(x + y) < 0.16)),
};

/** A shape in one colour, as an RGBA PNG. */
function icon(size: number, [r, g, b]: [number, number, number], shape: Shape = ringAndDot): Buffer {
  const rows: Buffer[] = [];
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const alpha = shape((x + 0.5 - c) / c, (y + 0.5 - c) / c) ? 255 : 0;
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

/**
 * A Windows icon: PNG images inside an ICO container (Windows Vista and later read them), the
 * sizes the shell asks for, up to the 256×256 electron-builder requires.
 */
function ico(images: Array<[number, Buffer]>): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(1, 2); // type: icon
  header.writeUInt16LE(images.length, 4);
  let offset = 6 + 16 * images.length;
  const entries = images.map(([size, png]) => {
    const entry = Buffer.alloc(16);
    entry.writeUInt8(size >= 256 ? 0 : size, 0); // 0 means 256
    entry.writeUInt8(size >= 256 ? 0 : size, 1);
    entry.writeUInt16LE(1, 4); // colour planes
    entry.writeUInt16LE(32, 6); // bits per pixel
    entry.writeUInt32LE(png.length, 8);
    entry.writeUInt32LE(offset, 12);
    offset += png.length;
    return entry;
  });
  return Buffer.concat([header, ...entries, ...images.map(([, png]) => png)]);
}

mkdirSync('build/tray', { recursive: true });
for (const [state, colour] of Object.entries(COLOURS)) {
  writeFileSync(`build/tray/${state}.png`, icon(16, colour));
  writeFileSync(`build/tray/${state}@2x.png`, icon(32, colour));
  writeFileSync(`build/tray/${state}Template.png`, icon(16, [0, 0, 0], TEMPLATE_SHAPES[state]));
  writeFileSync(`build/tray/${state}Template@2x.png`, icon(32, [0, 0, 0], TEMPLATE_SHAPES[state]));
}
writeFileSync('build/icon.png', icon(512, COLOURS['busy']!));
writeFileSync('build/icon.ico', ico([16, 32, 48, 256].map((size) => [size, icon(size, COLOURS['busy']!)])));
console.log('wrote build/tray/*.png, build/icon.png and build/icon.ico');
