/// <reference lib="dom" />
/**
 * Traces: filters in the URL (user, status, agent, since, until), newest first, "load more" with the API's cursor,
 * jump to a trace id. Arrow keys move between rows; Enter opens one.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, query, type TraceSummary } from '../api.js';
import { ErrorNote, Link, Loading, Status } from '../components.js';
import { dateTime, duration, shortId } from '../format.js';
import { linkClick, navigate, type Location } from '../router.js';

const PAGE = 25;
const FILTERS = ['user', 'status', 'agent', 'since', 'until'] as const;
const ID_RE = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** `datetime-local` value (local time) → ISO; empty stays empty. */
const toIso = (v: string | null) => (v ? new Date(v).toISOString() : undefined);

function rowKeys(e: KeyboardEvent) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
  const links = Array.from((e.currentTarget as HTMLElement).querySelectorAll<HTMLAnchorElement>('a'));
  const i = links.indexOf(document.activeElement as HTMLAnchorElement);
  const next = e.key === 'Home' ? 0 : e.key === 'End' ? links.length - 1 : i + (e.key === 'ArrowDown' ? 1 : -1);
  const target = links[Math.max(0, Math.min(links.length - 1, next))];
  if (target) {
    e.preventDefault();
    target.focus();
  }
}

export function Traces(props: { loc: Location }) {
  const q = props.loc.query;
  const filters = Object.fromEntries(FILTERS.map((k) => [k, q.get(k) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const key = FILTERS.map((k) => filters[k]).join('|');
  const [rows, setRows] = useState<TraceSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [jump, setJump] = useState('');
  const [jumpError, setJumpError] = useState('');

  const params = (c?: string | null) =>
    query({ user_id: filters.user, status: filters.status, agent: filters.agent, since: toIso(filters.since), until: toIso(filters.until), limit: PAGE, cursor: c });

  useEffect(() => {
    const ctl = new AbortController();
    setRows(null);
    setError(null);
    api<{ traces: TraceSummary[]; nextCursor: string | null }>(`/api/dashboard/traces${params()}`, { signal: ctl.signal }).then(
      (p) => {
        setRows(p.traces);
        setCursor(p.nextCursor);
      },
      (e: unknown) => !ctl.signal.aborted && setError(e),
    );
    return () => ctl.abort();
  }, [key]);

  const more = async () => {
    setLoadingMore(true);
    try {
      const p = await api<{ traces: TraceSummary[]; nextCursor: string | null }>(`/api/dashboard/traces${params(cursor)}`);
      setRows((r) => [...(r ?? []), ...p.traces]);
      setCursor(p.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    navigate(`/traces${query(Object.fromEntries(FILTERS.map((k) => [k, (form.get(k) as string | null)?.trim() ?? ''])))}`);
  };
  const go = (e: Event) => {
    e.preventDefault();
    const id = jump.trim().toLowerCase();
    if (!ID_RE.test(id)) {
      setJumpError('A trace id is 32 hex characters or a UUID.');
      return;
    }
    setJumpError('');
    navigate(`/traces/${id}`);
  };
  const active = FILTERS.some((k) => filters[k]);

  return html`<section aria-labelledby="h-traces">
    <div class="toolbar"><h1 id="h-traces">Traces</h1>
      <form class="jump" onSubmit=${go} role="search" aria-label="Jump to a trace">
        <label>Trace id <input name="id" value=${jump} onInput=${(e: Event) => setJump((e.target as HTMLInputElement).value)} placeholder="32 hex chars" autocomplete="off" spellcheck=${false} aria-invalid=${jumpError ? 'true' : undefined} aria-describedby="jump-error" /></label>
        <button type="submit">Open</button>
        <span id="jump-error" class="field-error">${jumpError}</span>
      </form>
    </div>
    <form class="filters" onSubmit=${apply} aria-label="Filter traces" key=${key}>
      <label>User <input name="user" value=${filters.user} autocomplete="off" /></label>
      <label>Status <select name="status" value=${filters.status}>
        <option value="">any</option><option value="success">success</option><option value="error">error</option>
        <option value="timeout">timeout</option><option value="running">running</option></select></label>
      <label>Agent <input name="agent" value=${filters.agent} autocomplete="off" /></label>
      <label>From <input type="datetime-local" step="1" name="since" value=${filters.since} /></label>
      <label>To <input type="datetime-local" step="1" name="until" value=${filters.until} /></label>
      <button type="submit">Apply filters</button>
      ${active ? html`<a href="/traces" onClick=${linkClick}>Clear</a>` : null}
    </form>
    <${ErrorNote} error=${error} />
    ${rows === null && !error ? html`<${Loading} what="traces" />` : null}
    ${rows && rows.length === 0 ? html`<p class="empty">No traces${active ? ' match these filters' : ' yet'}.</p>` : null}
    ${rows && rows.length > 0
      ? html`<div class="table-wrap"><table class="list traces" aria-describedby="traces-help">
        <caption class="sr-only">Traces, newest first</caption>
        <thead><tr><th scope="col">Status</th><th scope="col">Trace</th><th scope="col">Agent</th><th scope="col">User</th>
          <th scope="col">Duration</th><th scope="col">Iterations</th><th scope="col">Tools</th><th scope="col">Started</th></tr></thead>
        <tbody onKeyDown=${rowKeys}>${rows.map(
          (t) => html`<tr data-trace=${t.traceId} data-status=${t.status}>
            <td><${Status} value=${t.status} /></td>
            <td><${Link} href=${`/traces/${t.traceId}`} class="mono" label=${`Trace ${t.traceId}`}>${shortId(t.traceId)}</${Link}>
              ${t.truncated ? html` <span class="tag" title="spans dropped or fields cut">truncated</span>` : null}</td>
            <td>${t.agent ?? '—'}</td><td>${t.userId ?? '—'}</td><td>${duration(t.durationMs)}</td>
            <td>${t.iterations}</td><td>${t.toolCount ?? '—'}</td><td><time datetime=${new Date(t.startedAt).toISOString()}>${dateTime(t.startedAt)}</time></td>
          </tr>`,
        )}</tbody>
      </table></div>
      <p id="traces-help" class="muted small">${rows.length} shown. Up/Down arrows move between traces; Enter opens one.</p>
      ${cursor ? html`<button type="button" class="more" onClick=${() => void more()} disabled=${loadingMore}>${loadingMore ? 'Loading…' : 'Load more'}</button>` : html`<p class="muted small">End of the list.</p>`}`
      : null}
  </section>`;
}
