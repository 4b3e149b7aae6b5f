/** Human-readable renderings for the CLI: trace tables and span trees. Plain text, no colours when not a TTY. */
import type { SpanRecord, TraceRecord } from '../trace/model.js';
import type { TraceSummary } from '../store/TraceStore.js';

const ms = (v: number | null) => (v === null ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const time = (epochMs: number) => new Date(epochMs).toISOString().replace('T', ' ').slice(0, 19);

/** Renders rows as aligned columns. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function traceTable(traces: readonly TraceSummary[]): string {
  if (traces.length === 0) return 'no traces';
  return columns([
    ['TRACE ID', 'STATUS', 'AGENT', 'USER', 'DURATION', 'ITER', 'SPANS', 'STARTED (UTC)'],
    ...traces.map((t) => [t.traceId, t.status, t.agent ?? '—', t.userId === null ? '—' : String(t.userId), ms(t.durationMs), String(t.iterations), String(t.spanCount), time(t.startedAt)]),
  ]);
}

function spanLine(s: SpanRecord): string {
  const detail =
    s.kind === 'llm'
      ? [s.model, s.usage ? `${s.usage.inputTokens}→${s.usage.outputTokens} tok` : undefined, s.stopReason].filter(Boolean).join(', ')
      : s.kind === 'tool'
        ? [s.toolName, s.circuit ? `circuit ${s.circuit}` : undefined].filter(Boolean).join(', ')
        : '';
  const err = s.error ? `  ✗ ${s.error.type}${s.error.code ? ` [${s.error.code}]` : ''}: ${s.error.message}` : '';
  const mark = s.status === 'error' ? '✗' : s.status === 'running' ? '…' : '✓';
  return `${mark} ${s.kind} ${s.name} ${ms(s.durationMs)}${detail ? ` (${detail})` : ''}${err}`;
}

/** The span tree of a trace with durations and errors, children indented under their parent. */
export function spanTree(trace: TraceRecord): string {
  const header = [
    `trace ${trace.traceId}  ${trace.status}  ${ms(trace.durationMs)}  agent ${trace.agent ?? '—'}  user ${trace.userId ?? '—'}  iterations ${trace.iterations}`,
    `started ${time(trace.startedAt)} UTC${trace.truncated ? `  TRUNCATED (${trace.droppedSpans} spans dropped)` : ''}`,
  ];
  const children = new Map<string | null, SpanRecord[]>();
  const ids = new Set(trace.spans.map((s) => s.spanId));
  for (const s of trace.spans) {
    const parent = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.startedAt - b.startedAt);
    list.forEach((s, i) => {
      const last = i === list.length - 1;
      lines.push(`${prefix}${depth === 0 ? '' : last ? '└─ ' : '├─ '}${spanLine(s)}`);
      if (depth < 64) walk(s.spanId, depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`, depth + 1);
    });
  };
  walk(null, '', 0);
  const out = trace.finalOutput ? [`output: ${trace.finalOutput}`] : [];
  return [...header, '', ...lines, ...(out.length ? ['', ...out] : [])].join('\n');
}
