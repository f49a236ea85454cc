import Anser from 'anser';
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { LogSource } from '../../../shared/contract.js';
import { call, saveFile } from '../api.js';

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
 */
export function LogView({ source, title, back }: { source: LogSource; title: string; back: () => void }) {
  const [total, setTotal] = useState(0);
  const [, setLoaded] = useState(0);
  const pages = useRef(new Map<number, string[]>());
  const inflight = useRef(new Set<number>());
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState<{ query: string; matches: number[]; total: number; index: number; ms: number }>();
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  const scaled = total * LINE_HEIGHT > MAX_SCROLL_PX;
  const height = Math.min(total * LINE_HEIGHT, MAX_SCROLL_PX);
  const visible = Math.ceil(viewport / LINE_HEIGHT) + 1;
  const first =
    scaled ?
      Math.min(total - visible + 1, Math.round((scrollTop / Math.max(1, height - viewport)) * Math.max(0, total - visible + 1)))
    : Math.floor(scrollTop / LINE_HEIGHT);
  const topFor = useCallback(
    (line: number) => (scaled ? (line / Math.max(1, total - visible + 1)) * (height - viewport) : line * LINE_HEIGHT),
    [scaled, total, visible, height, viewport],
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

  useEffect(() => {
    if (follow && scroller.current) scroller.current.scrollTop = scroller.current.scrollHeight;
  }, [follow, total]);

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

  const jumpTo = useCallback(
    (line: number) => {
      setFollow(false);
      if (scroller.current) scroller.current.scrollTop = Math.max(0, topFor(line) - (scaled ? 0 : viewport / 2 - LINE_HEIGHT));
    },
    [topFor, scaled, viewport],
  );

  const runSearch = () => {
    if (!query) return setSearch(undefined);
    const started = performance.now();
    setStatus('Searching…');
    call('logs.search', { source, query, limit: 10_000 }).then(
      (r) => {
        const ms = Math.round(performance.now() - started);
        setSearch({ query, ...r, index: 0, ms });
        setStatus(undefined);
        if (r.matches.length) jumpTo(r.matches[0]!);
      },
      (e: Error) => setError(e.message),
    );
  };
  const step = (by: number) => {
    if (!search || !search.matches.length) return;
    const index = (search.index + by + search.matches.length) % search.matches.length;
    setSearch({ ...search, index });
    jumpTo(search.matches[index]!);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    if (search && search.query === query) step(e.shiftKey ? -1 : 1);
    else runSearch();
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
  for (let line = Math.max(0, first); line < Math.min(total, first + visible); line++) {
    const text = pages.current.get(Math.floor(line / PAGE))?.[line % PAGE];
    rows.push(
      <div key={line} className={`line${matchSet.has(line) ? ' match' : ''}${line === current ? ' current' : ''}`} data-line={line + 1}>
        <span className="gutter">{line + 1}</span>
        {text === undefined ? <span className="muted">…</span> : <Ansi text={text} highlight={search?.query} />}
      </div>,
    );
  }

  return (
    <section className="log-view">
      <div className="section-head">
        <button onClick={back}>← Back</button>
        <h1 title={title}>{title}</h1>
        <span className="muted" data-testid="line-count">
          {total.toLocaleString()} {total === 1 ? 'line' : 'lines'}
        </span>
      </div>
      <div className="toolbar">
        <input type="search" aria-label="Search the log" placeholder="Search (Enter: next, Shift+Enter: previous)" value={query} onChange={(e) => setQuery(e.target.value)} onKeyDown={onKey} />
        <button onClick={() => step(-1)} disabled={!search?.matches.length} aria-label="Previous match">
          ↑
        </button>
        <button onClick={() => step(1)} disabled={!search?.matches.length} aria-label="Next match">
          ↓
        </button>
        <span className="muted" data-testid="search-result">
          {search ?
            search.total === 0 ?
              'no matches'
            : `${(search.index + 1).toLocaleString()} of ${search.total.toLocaleString()}${search.total > search.matches.length ? ` (first ${search.matches.length.toLocaleString()} listed)` : ''} · ${search.ms} ms`
          : ''}
        </span>
        <span className="spacer" />
        <button className={follow ? 'on' : ''} aria-pressed={follow} onClick={() => setFollow(!follow)}>
          {follow ? 'Following' : 'Follow'}
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
        data-testid="log-scroller"
        style={{ ['--gutter' as string]: `${Math.max(4, String(total).length + 1)}ch` }}
        onScroll={(e) => {
          const el = e.currentTarget;
          setScrollTop(el.scrollTop);
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < LINE_HEIGHT;
          if (follow && !atBottom) setFollow(false);
        }}
      >
        <div style={{ height }}>
          <div className="lines" style={{ transform: `translateY(${scaled ? scrollTop : Math.max(0, first) * LINE_HEIGHT}px)` }}>
            {rows}
          </div>
        </div>
      </div>
    </section>
  );
}

const ansiOptions = { use_classes: true, remove_empty: true } as const;

/** One line with its ANSI colours as classes, and the search text marked. */
function Ansi({ text, highlight }: { text: string; highlight: string | undefined }) {
  const parts = text.includes('\u001b') ? Anser.ansiToJson(text, ansiOptions) : [{ content: text, fg: null, bg: null, decorations: [] as string[] }];
  return (
    <span className="text">
      {parts.map((p, i) => (
        <span key={i} className={[p.fg && `fg-${p.fg}`, p.bg && `bg-${p.bg}`, ...p.decorations].filter(Boolean).join(' ') || undefined}>
          {highlight ? mark(p.content, highlight) : p.content}
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
