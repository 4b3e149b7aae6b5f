/// <reference lib="dom" />
/**
 * One trace: header, truncation banner, the span tree as a waterfall (bars placed by start and length, nested by
 * parent, coloured by kind, status as an icon and word) and a side panel for the selected span. The waterfall is an
 * ARIA tree: Up/Down move, Home/End jump, Left goes to the parent, Right to the first child; the selection follows
 * focus and lives in the URL (`?span=`).
 */
import { html } from 'htm/preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Span, type Trace } from '../api.js';
import { ErrorNote, Link, Loading, Status, ValueView } from '../components.js';
import { count, dateTime, duration } from '../format.js';
import { navigate, type Location } from '../router.js';

interface Row {
  span: Span;
  depth: number;
  parentIndex: number;
  firstChild: number;
}

/** Depth-first order, children by start time; orphans (parent dropped) become roots. */
export function flatten(spans: readonly Span[]): Row[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, Span[]>();
  for (const s of spans) {
    const p = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    const list = children.get(p) ?? [];
    list.push(s);
    children.set(p, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.startedAt - b.startedAt);
  const rows: Row[] = [];
  const walk = (parent: string | null, depth: number, parentIndex: number) => {
    for (const s of children.get(parent) ?? []) {
      const index = rows.length;
      rows.push({ span: s, depth, parentIndex, firstChild: -1 });
      const before = rows.length;
      walk(s.spanId, depth + 1, index);
      if (rows.length > before) rows[index]!.firstChild = before;
    }
  };
  walk(null, 0, -1);
  return rows;
}

function SpanPanel(props: { span: Span | undefined; traceStart: number }) {
  const s = props.span;
  if (!s) return html`<aside class="panel" aria-label="Span details"><p class="muted">Select a span to see its details.</p></aside>`;
  const attrs = Object.entries(s.attributes ?? {});
  return html`<aside class="panel" aria-labelledby="h-span" data-span-panel=${s.spanId}>
    <h2 id="h-span"><span class=${`kind k-${s.kind}`}>${s.kind}</span> ${s.name}</h2>
    <dl class="facts">
      <dt>Status</dt><dd><${Status} value=${s.status} /></dd>
      <dt>Duration</dt><dd>${duration(s.durationMs)}</dd>
      <dt>Starts at</dt><dd>+${duration(s.startedAt - props.traceStart)}</dd>
      <dt>Span id</dt><dd class="mono">${s.spanId}</dd>
      ${s.kind === 'llm' ? html`
        <dt>Model</dt><dd>${s.model ?? '—'}</dd>
        <dt>Tokens</dt><dd data-usage>${s.usage ? `${count(s.usage.inputTokens)} in · ${count(s.usage.outputTokens)} out · ${count(s.usage.inputTokens + s.usage.outputTokens)} total` : '—'}</dd>
        <dt>Stop reason</dt><dd>${s.stopReason ?? '—'}</dd>` : null}
      ${s.kind === 'tool' ? html`
        <dt>Tool</dt><dd>${s.toolName ?? s.name}</dd>
        <dt>Circuit</dt><dd data-circuit>${s.circuit ? html`<${Link} href=${`/circuits?q=${encodeURIComponent(s.circuit)}`}>${s.circuit}</${Link}>` : '—'}</dd>` : null}
    </dl>
    ${s.error ? html`<section class="span-error" aria-labelledby="h-err"><h3 id="h-err">Error</h3>
      <p><strong>${s.error.type}</strong>${s.error.code ? html` <span class="tag">${s.error.code}</span>` : null}</p>
      <pre>${s.error.message}</pre></section>` : null}
    <section aria-labelledby="h-in"><h3 id="h-in">Input</h3><${ValueView} value=${s.input} label="Input" /></section>
    <section aria-labelledby="h-out"><h3 id="h-out">Output</h3><${ValueView} value=${s.output} label="Output" /></section>
    <section aria-labelledby="h-attr"><h3 id="h-attr">Attributes</h3>
      ${attrs.length === 0 ? html`<p class="muted">None.</p>` : html`<dl class="attrs">${attrs.map(([k, v]) => html`<dt>${k}</dt><dd>${Array.isArray(v) ? v.join(', ') : String(v)}</dd>`)}</dl>`}
    </section>
  </aside>`;
}

export function TraceDetail(props: { id: string; loc: Location }) {
  const [trace, setTrace] = useState<Trace | null>(null);
  const [error, setError] = useState<unknown>(null);
  const tree = useRef<HTMLUListElement>(null);
  const selectedId = props.loc.query.get('span');

  useEffect(() => {
    const ctl = new AbortController();
    setTrace(null);
    setError(null);
    api<Trace>(`/api/traces/${encodeURIComponent(props.id)}`, { signal: ctl.signal }).then(setTrace, (e: unknown) => !ctl.signal.aborted && setError(e));
    return () => ctl.abort();
  }, [props.id]);

  const rows = useMemo(() => (trace ? flatten(trace.spans) : []), [trace]);
  const selectedIndex = Math.max(0, rows.findIndex((r) => r.span.spanId === selectedId));
  const select = (i: number, focus: boolean) => {
    const row = rows[i];
    if (!row) return;
    navigate(`/traces/${props.id}?span=${row.span.spanId}`, { replace: true });
    if (focus) tree.current?.querySelectorAll<HTMLElement>('[role="treeitem"]')[i]?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    const row = rows[selectedIndex];
    let next: number | null = null;
    if (e.key === 'ArrowDown') next = selectedIndex + 1;
    else if (e.key === 'ArrowUp') next = selectedIndex - 1;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = rows.length - 1;
    else if (e.key === 'ArrowLeft' && row && row.parentIndex >= 0) next = row.parentIndex;
    else if (e.key === 'ArrowRight' && row && row.firstChild >= 0) next = row.firstChild;
    if (next === null || next < 0 || next >= rows.length) return;
    e.preventDefault();
    select(next, true);
  };

  if (error) {
    const notFound = error instanceof ApiError && error.status === 404;
    return html`<section aria-labelledby="h-trace"><h1 id="h-trace">Trace <span class="mono">${props.id}</span></h1>
      ${notFound ? html`<p class="note" role="alert">No trace with this id. It may have been sampled out, expired or deleted.</p>` : html`<${ErrorNote} error=${error} />`}
      <p><${Link} href="/traces">Back to traces</${Link}></p></section>`;
  }
  if (!trace) return html`<${Loading} what="trace" />`;

  const start = trace.startedAt;
  const end = Math.max(trace.endedAt ?? start, ...trace.spans.map((s) => s.endedAt ?? s.startedAt));
  const total = Math.max(1, end - start);
  const selected = rows[selectedIndex]?.span;
  return html`<section aria-labelledby="h-trace" class="trace">
    <div class="toolbar"><h1 id="h-trace">Trace <span class="mono">${trace.traceId}</span></h1><${Link} href="/traces">All traces</${Link}></div>
    <dl class="facts inline">
      <dt>Status</dt><dd><${Status} value=${trace.status} /></dd>
      <dt>Agent</dt><dd>${trace.agent ?? '—'}</dd>
      <dt>User</dt><dd>${trace.userId ?? '—'}</dd>
      <dt>Started</dt><dd>${dateTime(trace.startedAt)}</dd>
      <dt>Duration</dt><dd>${duration(trace.durationMs)}</dd>
      <dt>Iterations</dt><dd>${trace.iterations}</dd>
      <dt>Spans</dt><dd>${trace.spans.length}</dd>
      ${trace.keepReason ? html`<dt>Kept because</dt><dd>${trace.keepReason}</dd>` : null}
    </dl>
    ${trace.truncated || trace.droppedSpans > 0
      ? html`<p class="note note-warn" data-truncated><span aria-hidden="true">⚠ </span><strong>Truncated trace.</strong>
          ${trace.droppedSpans > 0 ? ` ${trace.droppedSpans} span${trace.droppedSpans === 1 ? ' was' : 's were'} dropped (span cap).` : ''}
          Cut fields end with a …[truncated N chars] marker.</p>`
      : null}
    <div class="detail">
      <div class="waterfall" aria-labelledby="h-wf">
        <h2 id="h-wf">Spans <span class="muted small">Arrow keys move; Left/Right go to the parent / first child.</span></h2>
        <div class="wf-axis" aria-hidden="true"><span>0</span><span>${duration(total / 2)}</span><span>${duration(total)}</span></div>
        <ul role="tree" aria-label="Span tree" ref=${tree} onKeyDown=${onKey}>
          ${rows.map((r, i) => {
            const s = r.span;
            const left = ((s.startedAt - start) / total) * 100;
            const width = (((s.endedAt ?? end) - s.startedAt) / total) * 100;
            const isSel = i === selectedIndex;
            return html`<li role="treeitem" aria-level=${r.depth + 1} aria-selected=${isSel ? 'true' : 'false'} tabindex=${isSel ? 0 : -1}
                data-span=${s.spanId} data-kind=${s.kind} class=${`wf-row${isSel ? ' selected' : ''}`} onClick=${() => select(i, true)}>
              <span class="wf-label" style=${{ paddingInlineStart: `${r.depth * 14}px` }}>
                <span class=${`kind k-${s.kind}`}>${s.kind}</span> <span class="wf-name">${s.name}</span>
                ${s.status === 'error' ? html` <span class="st-error-text">✕ error</span>` : s.status === 'running' ? html` <span class="muted">… running</span>` : null}
              </span>
              <span class="wf-track"><span class=${`wf-bar k-${s.kind} wf-${s.status}`} style=${{ left: `${left}%`, width: `max(2px, ${width}%)` }}></span></span>
              <span class="wf-dur">${duration(s.durationMs)}</span>
            </li>`;
          })}
        </ul>
        ${rows.length === 0 ? html`<p class="muted">This trace has no spans.</p>` : null}
      </div>
      <${SpanPanel} span=${selected} traceStart=${start} />
    </div>
    ${trace.finalOutput !== null ? html`<section class="card" aria-labelledby="h-final"><h2 id="h-final">Final output</h2><${ValueView} value=${trace.finalOutput} label="Final output" /></section>` : null}
  </section>`;
}
