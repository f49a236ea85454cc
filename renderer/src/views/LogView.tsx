import { useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { LogSource } from '../../../shared/contract.js';
import { ansiSegments } from '../ansi.js';
import { call, saveFile } from '../api.js';
import { rememberedLog, rememberLog } from '../remember.js';
import { useDarkTheme } from '../theme.js';

const LINE_HEIGHT = 18;
const PAGE = 500;
/** Browsers cap an element's height (Chromium near 33.5 M px): past this the scrollbar maps to lines proportionally. */
const MAX_SCROLL_PX = 8_000_000;
const EXPORT_CHUNK = 5000;
const COPY_LIMIT_LINES = 200_000;

/**
 * A log of any length: only the lines on screen are in the DOM, fetched a page at a time;
 * search runs in the core over the whole file. Follow keeps the newest line in view while
 * the log grows; scrolling up pauses it.
 *
 * Where the view is, is one number: `top`, the (fractional) line at the top edge, from 0 to
 * `maxTop` (the last line's bottom at the viewport's bottom). The scrollbar is mapped onto it
 * linearly — 18 px a line, or proportionally past the browser's height cap — and the lines
 * are drawn in a sticky window exactly one viewport tall, so they never add overflow and the
 * last line is always reachable. Keys (and, when scaled, the wheel) move `top` in lines.
 */
export function LogView({ source, title, back }: { source: LogSource; title: string; back: () => void }) {
  const memoryId = source.kind === 'app' ? 'app' : `session:${source.workId}`;
  const remembered = useMemo(() => rememberedLog(memoryId), [memoryId]);
  const dark = useDarkTheme();
  const ids = useId();
  const [total, setTotal] = useState(0);
  const [, setLoaded] = useState(0);
  const pages = useRef(new Map<number, string[]>());
  const inflight = useRef(new Set<number>());
  const scroller = useRef<HTMLDivElement>(null);
  /** The scrollTop this view last set itself: its scroll event is not the user's. */
  const ownScroll = useRef(-1);
  const [top, setTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [follow, setFollow] = useState(remembered?.follow ?? true);
  const [query, setQuery] = useState(remembered?.query ?? '');
  const [search, setSearch] = useState<{ query: string; matches: number[]; total: number; index: number; ms: number }>();
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  const scaled = total * LINE_HEIGHT > MAX_SCROLL_PX;
  const height = Math.min(total * LINE_HEIGHT, MAX_SCROLL_PX);
  const range = Math.max(0, height - viewport);
  const maxTop = Math.max(0, total - viewport / LINE_HEIGHT);
  const pageLines = Math.max(1, Math.floor(viewport / LINE_HEIGHT));
  const visible = Math.ceil(viewport / LINE_HEIGHT) + 1;
  const shownTop = Math.min(top, maxTop);
  const first = Math.floor(shownTop);

  /** Puts line `line` (fractional) at the top edge, and the scrollbar where it belongs. */
  const scrollToLine = useCallback(
    (line: number) => {
      const t = Math.min(maxTop, Math.max(0, line));
      setTop(t);
      const el = scroller.current;
      if (!el) return;
      el.scrollTop = maxTop > 0 ? Math.round((t / maxTop) * range) : 0;
      ownScroll.current = el.scrollTop;
    },
    [maxTop, range],
  );

  // Growth: poll the size; the last page may have been partial, so it is fetched again.
  useEffect(() => {
    let live = true;
    const check = () =>
      call('logs.info', { source }).then(
        ({ lines }) => {
          if (!live) return;
          setTotal((before) => {
            if (lines !== before) pages.current.delete(Math.floor(Math.max(0, before - 1) / PAGE));
            return lines;
          });
        },
        (e: Error) => live && setError(e.message),
      );
    void check();
    const timer = setInterval(check, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [source]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // The log grew or the window changed size: the newest line when following; else the same place.
  useLayoutEffect(() => {
    scrollToLine(follow ? maxTop : top);
    // Only these changes move the view; `top` itself is moved by the user.
  }, [follow, total, viewport]);

  useEffect(() => rememberLog(memoryId, { follow, query: search?.query ?? '' }), [memoryId, follow, search?.query]);

  // Past the height cap one wheel notch would skip many lines: the wheel moves lines instead.
  const wheel = useRef<(e: WheelEvent) => void>(() => {});
  wheel.current = (e) => {
    if (!scaled || e.deltaY === 0) return;
    e.preventDefault();
    const lines = e.deltaMode === 1 ? e.deltaY : e.deltaMode === 2 ? e.deltaY * pageLines : e.deltaY / LINE_HEIGHT;
    move(shownTop + lines);
  };
  useEffect(() => {
    const el = scroller.current;
    const listener = (e: WheelEvent) => wheel.current(e);
    el?.addEventListener('wheel', listener, { passive: false });
    return () => el?.removeEventListener('wheel', listener);
  }, []);

  /** A move the user asked for: away from the newest line, it pauses following. */
  const move = (line: number) => {
    scrollToLine(line);
    if (line < maxTop - 0.5) setFollow(false);
  };
  const onLogKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const to =
      e.key === 'ArrowDown' ? shownTop + 1
      : e.key === 'ArrowUp' ? shownTop - 1
      : e.key === 'PageDown' || (e.key === ' ' && !e.shiftKey) ? shownTop + pageLines - 1
      : e.key === 'PageUp' || (e.key === ' ' && e.shiftKey) ? shownTop - pageLines + 1
      : e.key === 'Home' ? 0
      : e.key === 'End' ? maxTop
      : undefined;
    if (to === undefined) return;
    e.preventDefault();
    move(to);
  };

  // Fetch the pages the screen needs.
  useEffect(() => {
    const needed = new Set([Math.floor(first / PAGE), Math.floor(Math.min(total - 1, first + visible) / PAGE)]);
    for (const page of needed) {
      if (page < 0 || pages.current.has(page) || inflight.current.has(page)) continue;
      inflight.current.add(page);
      call('logs.lines', { source, from: page * PAGE, count: PAGE })
        .then((lines) => {
          pages.current.set(page, lines);
          if (pages.current.size > 200) pages.current.delete(pages.current.keys().next().value!);
          setLoaded((n) => n + 1);
        }, (e: Error) => setError(e.message))
        .finally(() => inflight.current.delete(page));
    }
  }, [first, visible, total, source]);

  /** A match in the middle of the screen. */
  const jumpTo = useCallback(
    (line: number) => {
      setFollow(false);
      scrollToLine(line - Math.floor((pageLines - 1) / 2));
    },
    [scrollToLine, pageLines],
  );

  const runSearch = (text: string, jump: boolean) => {
    if (!text) return setSearch(undefined);
    const started = performance.now();
    setStatus('Searching…');
    call('logs.search', { source, query: text, limit: 10_000 }).then(
      (r) => {
        const ms = Math.round(performance.now() - started);
        setSearch({ query: text, ...r, index: 0, ms });
        setStatus(undefined);
        if (jump && r.matches.length) jumpTo(r.matches[0]!);
      },
      (e: Error) => setError(e.message),
    );
  };
  // The search this log had when last open: its matches marked, the view left where it opens.
  useEffect(() => {
    if (remembered?.query) runSearch(remembered.query, false);
    // Once, when the log opens.
  }, []);
  const step = (by: number) => {
    if (!search || !search.matches.length) return;
    const index = (search.index + by + search.matches.length) % search.matches.length;
    setSearch({ ...search, index });
    jumpTo(search.matches[index]!);
  };
  const onSearchKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    if (search && search.query === query) step(e.shiftKey ? -1 : 1);
    else runSearch(query, true);
  };

  const whole = async (limit: number): Promise<string[] | null> => {
    const { lines } = await call('logs.info', { source });
    if (lines > limit) return null;
    const out: string[] = [];
    for (let from = 0; from < lines; from += EXPORT_CHUNK) {
      setStatus(`Reading ${Math.round((from / lines) * 100)}%…`);
      out.push(...(await call('logs.lines', { source, from, count: EXPORT_CHUNK })));
    }
    setStatus(undefined);
    return out;
  };
  const copy = () =>
    whole(COPY_LIMIT_LINES).then(async (lines) => {
      if (!lines) return setStatus('Too long to copy: use Download.');
      await navigator.clipboard.writeText(lines.join('\n'));
      setStatus(`Copied ${lines.length.toLocaleString()} lines.`);
    }, (e: Error) => setError(e.message));
  const download = () =>
    whole(Number.MAX_SAFE_INTEGER).then((lines) => {
      saveFile(source.kind === 'app' ? 'outpost.log' : `${source.workId}.log`, [lines!.join('\n') + '\n'], 'text/plain');
    }, (e: Error) => setError(e.message));

  const matchSet = useMemo(() => new Set(search?.matches ?? []), [search]);
  const current = search?.matches[search.index];
  const rows: ReactNode[] = [];
  for (let line = first; line < Math.min(total, first + visible); line++) {
    const text = pages.current.get(Math.floor(line / PAGE))?.[line % PAGE];
    rows.push(
      <div key={line} className={`line${matchSet.has(line) ? ' match' : ''}${line === current ? ' current' : ''}`} data-line={line + 1} aria-current={line === current || undefined}>
        <span className="gutter">{line + 1}</span>
        {text === undefined ? <span className="muted">…</span> : <Ansi text={text} highlight={search?.query} dark={dark} />}
      </div>,
    );
  }

  return (
    <section className="log-view">
      <div className="section-head">
        <button onClick={back}>← Back</button>
        <h1 id={`${ids}-title`} title={title}>
          {title}
        </h1>
        <span className="muted" id={`${ids}-count`} data-testid="line-count">
          {total.toLocaleString()} {total === 1 ? 'line' : 'lines'}
        </span>
      </div>
      <div className="toolbar">
        <input type="search" aria-label="Search the log" placeholder="Search (Enter: next, Shift+Enter: previous)" value={query} onChange={(e) => setQuery(e.target.value)} onKeyDown={onSearchKey} />
        <button onClick={() => step(-1)} disabled={!search?.matches.length} aria-label="Previous match" title="Previous match (Shift+Enter)">
          ↑
        </button>
        <button onClick={() => step(1)} disabled={!search?.matches.length} aria-label="Next match" title="Next match (Enter)">
          ↓
        </button>
        <span className="muted" data-testid="search-result" role="status">
          {search ?
            search.total === 0 ?
              'no matches'
            : `${(search.index + 1).toLocaleString()} of ${search.total.toLocaleString()}${search.total > search.matches.length ? ` (first ${search.matches.length.toLocaleString()} listed)` : ''} · line ${(current! + 1).toLocaleString()} · ${search.ms} ms`
          : ''}
        </span>
        <span className="spacer" />
        <button className={follow ? 'on' : ''} aria-pressed={follow} onClick={() => setFollow(!follow)} title={follow ? 'Following the newest line: press to pause' : 'Paused: press to follow the newest line'}>
          {follow ? '● Following' : '❚❚ Paused'}
        </button>
        <button onClick={() => void copy()}>Copy</button>
        <button onClick={() => void download()}>Download</button>
      </div>
      {(status || error) && (
        <p className={error ? 'error' : 'muted'} role={error ? 'alert' : 'status'}>
          {error ?? status}
        </p>
      )}
      <div
        className="log"
        ref={scroller}
        tabIndex={0}
        role="region"
        aria-labelledby={`${ids}-title ${ids}-count`}
        aria-description="Arrow keys, Page Up, Page Down, Home and End move through the log"
        data-testid="log-scroller"
        data-scaled={scaled || undefined}
        style={{ ['--gutter' as string]: `${Math.max(4, String(total).length + 3)}ch` }}
        onKeyDown={onLogKey}
        onScroll={(e) => {
          const el = e.currentTarget;
          if (Math.abs(el.scrollTop - ownScroll.current) < 1) return;
          ownScroll.current = el.scrollTop;
          const line = range > 0 ? (el.scrollTop / range) * maxTop : 0;
          setTop(line);
          if (follow && line < maxTop - 0.5) setFollow(false);
        }}
      >
        <div className="log-window" style={{ height: viewport }}>
          <div className="lines" style={{ transform: `translateY(${-(shownTop - first) * LINE_HEIGHT}px)` }}>
            {rows}
          </div>
        </div>
        <div style={{ height: range }} />
      </div>
    </section>
  );
}

/** One line with its ANSI colours and decorations (renderer/src/ansi.ts), and the search text marked. */
function Ansi({ text, highlight, dark }: { text: string; highlight: string | undefined; dark: boolean }) {
  return (
    <span className="text">
      {ansiSegments(text, dark).map((p, i) => (
        <span key={i} className={p.className} style={p.style}>
          {highlight ? mark(p.text, highlight) : p.text}
        </span>
      ))}
    </span>
  );
}

function mark(text: string, query: string): ReactNode {
  const at = text.toLowerCase().indexOf(query.toLowerCase());
  if (at < 0) return text;
  return (
    <>
      {text.slice(0, at)}
      <mark>{text.slice(at, at + query.length)}</mark>
      {mark(text.slice(at + query.length), query)}
    </>
  );
}
