import Anser, { type AnserJsonEntry } from 'anser';
import type { CSSProperties } from 'react';

/** One run of a log line's text with its look: marker classes (decorations, colour names) and colours. */
export interface Segment {
  text: string;
  className: string | undefined;
  /** Set through the CSSOM (React's style prop), which the CSP's style-src 'self' allows; an HTML style attribute it would refuse. */
  style: CSSProperties | undefined;
}

const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
/** xterm's 256 colours: 0–15 are the themed 16, then a 6×6×6 cube and a 24-step grey ramp. */
const CUBE = [0, 95, 135, 175, 215, 255];
/** The log's background in each theme (styles.css --log-bg): exact colours are made readable on it. */
const LOG_BG = { light: [0xfb, 0xfb, 0xfa], dark: [0x14, 0x14, 0x16] } as const;
const TEXT = { light: [0x1d, 0x1d, 0x1f], dark: [0xec, 0xec, 0xef] } as const;
/** WCAG AA for normal text; VS Code's terminal applies the same floor (terminal.integrated.minimumContrastRatio). */
const MIN_CONTRAST = 4.5;

type Rgb = readonly [number, number, number];
/** A colour as the parser gives it: one of the 16 themed names, or an exact colour (256-palette or truecolor). */
type Colour = { name: string } | { rgb: Rgb } | null;

const options = { use_classes: true, remove_empty: true } as const;

/** A log line as segments: Anser parses every SGR code; this maps all of its output, in either theme. */
export function ansiSegments(line: string, dark: boolean): Segment[] {
  if (!line.includes('\u001b')) return [{ text: line, className: undefined, style: undefined }];
  return Anser.ansiToJson(line, options).map((part) => segment(part as AnserJsonEntry & { isInverted?: boolean }, dark));
}

function segment(part: AnserJsonEntry & { isInverted?: boolean }, dark: boolean): Segment {
  const theme = dark ? 'dark' : 'light';
  const inverse = part.isInverted === true;
  let fg = colour(part.fg, part.fg_truecolor);
  let bg = colour(part.bg, part.bg_truecolor);
  // Anser swaps the colours for reverse video (SGR 7), filling a missing one with black (as the
  // background) and white (as the text): those two mean this theme's own background and text.
  if (inverse && fg && 'name' in fg && fg.name === 'black') fg = null;
  if (inverse && bg && 'name' in bg && bg.name === 'white') bg = null;
  const classes: string[] = [...part.decorations];
  if (inverse) classes.push('inverse');
  const style: CSSProperties = {};

  let background: Rgb = LOG_BG[theme];
  if (bg && 'name' in bg) {
    classes.push(`bg-ansi-${bg.name}`);
    // Reversed, a named colour keeps its solid text shade as the background; otherwise its tint.
    style.backgroundColor = inverse ? `var(--ansi-${bg.name})` : `var(--ansi-bg-${bg.name})`;
  } else if (bg) {
    classes.push('bg-exact');
    background = readable(bg.rgb, TEXT[theme]);
    style.backgroundColor = css(background);
  } else if (inverse) style.backgroundColor = 'var(--text)';

  if (fg && 'name' in fg) {
    classes.push(`fg-ansi-${fg.name}`);
    style.color = inverse ? `var(--ansi-bg-${fg.name})` : `var(--ansi-${fg.name})`;
  } else if (fg) {
    classes.push('fg-exact');
    style.color = css(readable(fg.rgb, background));
  } else if (inverse) style.color = 'var(--log-bg)';

  return { text: part.content, className: classes.join(' ') || undefined, style: Object.keys(style).length ? style : undefined };
}

function colour(cls: string | null, truecolor: string | null): Colour {
  if (!cls) return null;
  // Anser leaves an old truecolor value behind after a reset: it counts only with its class.
  if (cls === 'ansi-truecolor') return truecolor ? { rgb: truecolor.split(',').map((n) => Number(n.trim())) as unknown as Rgb } : null;
  const palette = /^ansi-palette-(\d+)$/.exec(cls);
  if (palette) return paletteColour(Number(palette[1]));
  return { name: cls.replace(/^ansi-/, '') };
}

function paletteColour(n: number): Colour {
  if (n < 16) return { name: `${n >= 8 ? 'bright-' : ''}${NAMES[n % 8]!}` };
  if (n < 232) {
    const i = n - 16;
    return { rgb: [CUBE[Math.floor(i / 36)]!, CUBE[Math.floor(i / 6) % 6]!, CUBE[i % 6]!] };
  }
  const grey = 8 + (n - 232) * 10;
  return { rgb: [grey, grey, grey] };
}

/** The colour, moved toward black or white (whichever side of `against` has room) until it reaches the contrast floor. */
export function readable(rgb: Rgb, against: Rgb): Rgb {
  if (contrast(rgb, against) >= MIN_CONTRAST) return rgb;
  const target: Rgb = luminance(against) > 0.18 ? [0, 0, 0] : [255, 255, 255];
  for (let t = 0.05; t < 1; t += 0.05) {
    const mixed = rgb.map((c, i) => Math.round(c + (target[i]! - c) * t)) as unknown as Rgb;
    if (contrast(mixed, against) >= MIN_CONTRAST) return mixed;
  }
  return target;
}

function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function contrast(a: Rgb, b: Rgb): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

function css([r, g, b]: Rgb): string {
  return `rgb(${r}, ${g}, ${b})`;
}
