/**
 * How a trace maps to rows, shared by the backends: the filtered and indexed fields are columns, the record itself
 * (minus spans) is a JSON body, and each span is a row holding its JSON body in recorded order. Storing the bodies
 * verbatim keeps a trace lossless across backends: a numeric userId reads back as a number, a string as a string.
 */
import type { SpanRecord, TraceRecord } from '../trace/model.js';
import { validateTrace } from './query.js';
import type { TraceSummary } from './TraceStore.js';

/** Trace columns in insert order. */
export interface TraceRow {
  traceId: string;
  userId: string | null;
  agent: string | null;
  status: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  spanCount: number;
  expiresAt: number;
  body: string;
}

/** Span columns in insert order. */
export interface SpanRow {
  traceId: string;
  seq: number;
  spanId: string;
  parentId: string | null;
  kind: string;
  name: string;
  status: string;
  startedAt: number;
  durationMs: number | null;
  body: string;
}

/** The trace row for a validated trace with its normalised id. */
export function toTraceRow(trace: TraceRecord, traceId: string, expiresAt: number): TraceRow {
  // A record may carry fields the model does not name; a `spanCount` of its own is dropped: the listed summary's
  // spanCount is the stored span count, appended by `toSummary`.
  const { spans, spanCount: _derived, ...rest } = trace as TraceRecord & { spanCount?: unknown };
  rest.traceId = traceId;
  return {
    traceId,
    userId: trace.userId === null || trace.userId === undefined ? null : String(trace.userId),
    agent: trace.agent ?? null,
    status: trace.status,
    startedAt: trace.startedAt,
    endedAt: trace.endedAt ?? null,
    durationMs: trace.durationMs ?? null,
    spanCount: spans.length,
    expiresAt,
    body: JSON.stringify(rest),
  };
}

/** Calls `each` with the row of every span of a trace; `seqStart` numbers spans appended after stored ones. */
export function forEachSpanRow(trace: Pick<TraceRecord, 'spans'>, traceId: string, each: (row: SpanRow) => void, seqStart = 0): void {
  const spans = trace.spans;
  for (let seq = 0; seq < spans.length; seq++) {
    const span = spans[seq]!;
    each({
      traceId,
      seq: seqStart + seq,
      spanId: span.spanId,
      parentId: span.parentId ?? null,
      kind: span.kind,
      name: typeof span.name === 'string' ? span.name : '',
      status: typeof span.status === 'string' ? span.status : 'ok',
      startedAt: typeof span.startedAt === 'number' && Number.isFinite(span.startedAt) ? span.startedAt : 0,
      durationMs: typeof span.durationMs === 'number' && Number.isFinite(span.durationMs) ? span.durationMs : null,
      body: JSON.stringify(span),
    });
  }
}

/** A listed trace from its body and span count. */
export function toSummary(body: string, spanCount: number): TraceSummary {
  const summary = JSON.parse(body) as TraceSummary;
  summary.spanCount = spanCount;
  return summary;
}

/** A whole trace from its body and its spans' bodies (in recorded order). */
export function toTrace(body: string, spanBodies: readonly string[]): TraceRecord {
  const trace = JSON.parse(body) as TraceRecord;
  trace.spans = spanBodies.map((s) => JSON.parse(s) as SpanRecord);
  return trace;
}

/** The retention settings both trace stores take. */
export interface Retention {
  retentionMs: number;
  retentionFor?: ((trace: TraceRecord) => number | undefined) | undefined;
}

/** When a trace written at `now` expires: after `retentionFor(trace)` when that is a positive number, else `retentionMs`. */
export function expiresAt(trace: TraceRecord, now: number, retention: Retention): number {
  const ttl = retention.retentionFor?.(trace) ?? retention.retentionMs;
  return Math.round(now + (Number.isFinite(ttl) && ttl > 0 ? ttl : retention.retentionMs));
}

/** A validated trace ready to write: the record, its normalised id and its expiry. */
export interface PreparedTrace {
  trace: TraceRecord;
  traceId: string;
  expiresAt: number;
}

/**
 * Validates a whole batch before any of it is written and computes each trace's expiry — the one preparation both
 * trace stores run in `put`.
 * @throws ValidationError naming the trace (`traces[i]`) and the field.
 */
export function prepareTraces(traces: readonly TraceRecord[], now: number, retention: Retention): PreparedTrace[] {
  return traces.map((trace, i) => ({ trace, traceId: validateTrace(trace, i), expiresAt: expiresAt(trace, now, retention) }));
}
