/**
 * Turns a finished, kept trace into its {@link TraceRecord}: redaction first (by key and by shape), then the
 * field caps, then the per-trace byte cap. Runs once per kept trace, never for sampled-out ones. The one
 * implementation for both our own live traces (a `RecordingTrace` is a {@link TraceSource}) and traces ingested
 * from other agents (`ingest.ts` turns a foreign {@link TraceRecord} into a {@link TraceSource}).
 */
import type { AttributeValue, KeepReason, SpanError, SpanKind, SpanRecord, SpanStatus, TokenUsage, TraceContextMetadata, TraceRecord, TraceStatus } from './model.js';
import { TRACE_CONTEXT_KEY } from './model.js';
import { MAX_NAME_CHARS, truncateText, truncationMarker, type TraceBounds } from './bounds.js';
import type { Redactor } from './redact.js';
import { safeText, type SafeJson } from './safeValue.js';
import { jsonBound, spanBound } from './jsonBound.js';

/**
 * A finished span as captured, not yet redacted nor cut to its final caps: strings are at most at their capture caps
 * and values are JSON-safe. Attributes are flat `[key, value, ...]`, at most `bounds.maxAttributes` of them.
 */
export interface SpanSource {
  readonly spanId: string;
  readonly parentId: string | null;
  readonly kind: SpanKind;
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly status: SpanStatus;
  readonly error: SpanError | null;
  readonly input: SafeJson | undefined;
  readonly output: SafeJson | undefined;
  /** Consumed by the build (the caller must not reuse it). */
  readonly attrs: unknown[] | null;
  readonly droppedAttributes: number;
  readonly model: string | null;
  readonly usage: TokenUsage | null;
  readonly stopReason: string | null;
  readonly toolName: string | null;
  readonly circuit: string | null;
}

/** A finished trace as captured: at most `bounds.maxSpans` spans, the rest counted in `droppedSpans`. */
export interface TraceSource {
  readonly traceId: string;
  readonly userId: string | number | null;
  readonly agent: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly status: TraceStatus;
  readonly iterations: number;
  readonly finalOutput: SafeJson | undefined;
  readonly metadata: Record<string, SafeJson> | null;
  readonly error: SpanError | null;
  readonly spans: readonly SpanSource[];
  readonly droppedSpans: number;
  /** Already truncated before it reached us (an ingested trace flagged `truncated`). */
  readonly truncated?: boolean;
  /** For a run that joined a caller's trace: the caller's span id (see `TRACE_CONTEXT_KEY`). */
  readonly parentSpanId?: string | null;
  /** The run's root span id; recorded only with `parentSpanId`. */
  readonly rootSpanId?: string;
}

/** What building a record needs besides the trace. */
export interface RecordContext {
  bounds: TraceBounds;
  redactor: Redactor;
  /** Process metadata, already redacted, put under `metadata.service`; null for ingested traces (not ours). */
  service: Record<string, unknown> | null;
}

export function buildTraceRecord(trace: TraceSource, keepReason: KeepReason, ctx: RecordContext): TraceRecord {
  const { bounds, redactor } = ctx;
  const text = (s: string, max: number) => truncateText(redactor.redactString(s), max);
  // An upper bound on the record's UTF-8 JSON size: the byte cap measures exactly only when this exceeds it.
  let bound = 0;
  const spans: SpanRecord[] = new Array<SpanRecord>(trace.spans.length);
  for (let i = 0; i < trace.spans.length; i++) {
    const rec = spanRecord(trace.spans[i]!, ctx, text);
    bound += spanBound(rec) + 1;
    spans[i] = rec;
  }
  let finalOutput: string | null = null;
  if (trace.finalOutput !== undefined) {
    // A structured answer is redacted as data (by key too) before it becomes text.
    const raw = typeof trace.finalOutput === 'string' ? redactor.redactString(trace.finalOutput) : safeText(redactor.redactTree(trace.finalOutput), Infinity);
    finalOutput = truncateText(raw, bounds.maxFinalOutputChars);
  }
  const metadata: Record<string, unknown> = {};
  if (trace.metadata) {
    const m = redactor.redactTree(trace.metadata, bounds.maxAttributeChars, truncateText) as Record<string, SafeJson>;
    Object.assign(metadata, m);
  }
  if (ctx.service !== null) metadata.service = ctx.service;
  if (trace.parentSpanId && trace.rootSpanId) {
    const context: TraceContextMetadata = { rootSpanId: trace.rootSpanId, parentSpanId: trace.parentSpanId };
    metadata[TRACE_CONTEXT_KEY] = context;
  }
  if (trace.error) metadata.error = { ...trace.error, message: text(trace.error.message, bounds.maxErrorChars) };
  const endedAt = trace.endedAt ?? trace.startedAt;
  const record: TraceRecord = {
    traceId: trace.traceId,
    userId: typeof trace.userId === 'string' ? text(trace.userId, MAX_NAME_CHARS) : trace.userId,
    agent: trace.agent === null ? null : text(trace.agent, MAX_NAME_CHARS),
    startedAt: trace.startedAt,
    endedAt,
    durationMs: endedAt - trace.startedAt,
    status: trace.status,
    iterations: trace.iterations,
    finalOutput,
    metadata,
    spans,
    droppedSpans: trace.droppedSpans,
    truncated: trace.droppedSpans > 0 || trace.truncated === true,
    keepReason,
  };
  record.spans = [];
  bound += jsonBound(record);
  record.spans = spans;
  if (bound > bounds.maxTraceBytes) enforceByteCap(record, bounds.maxTraceBytes);
  return record;
}

function spanRecord(s: SpanSource, ctx: RecordContext, text: (s: string, max: number) => string): SpanRecord {
  const { bounds, redactor } = ctx;
  const rec = {
    spanId: s.spanId,
    parentId: s.parentId,
    kind: s.kind,
    name: text(s.name, MAX_NAME_CHARS),
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    durationMs: s.endedAt === null ? null : s.endedAt - s.startedAt,
    status: s.status,
    attributes: s.attrs === null ? {} : attributes(s.attrs, ctx),
  } as SpanRecord;
  if (s.droppedAttributes > 0) rec.attributes['agentex.dropped_attributes'] = s.droppedAttributes;
  if (s.error) rec.error = { type: text(s.error.type, 100), message: text(s.error.message, bounds.maxErrorChars), code: s.error.code };
  if (s.input !== undefined) rec.input = redactor.redactTree(s.input, bounds.maxInputChars, truncateText);
  if (s.output !== undefined) {
    const max = s.kind === 'tool' ? bounds.maxToolOutputChars : bounds.maxOutputChars;
    rec.output = capWhole(redactor.redactTree(s.output, max, truncateText), max);
  }
  if (rec.kind === 'llm') {
    if (s.model !== null) rec.model = text(s.model, MAX_NAME_CHARS);
    if (s.usage !== null) rec.usage = s.usage;
    if (s.stopReason !== null) rec.stopReason = text(s.stopReason, MAX_NAME_CHARS);
  } else if (rec.kind === 'tool') {
    if (s.toolName !== null) rec.toolName = text(s.toolName, MAX_NAME_CHARS);
    if (s.circuit !== null) rec.circuit = text(s.circuit, MAX_NAME_CHARS);
  } else {
    // Model or tool details set on another kind of span are kept as attributes rather than lost.
    if (s.model !== null) rec.attributes['llm.model'] = text(s.model, MAX_NAME_CHARS);
    if (s.usage !== null) {
      rec.attributes['llm.usage.input_tokens'] = s.usage.inputTokens;
      rec.attributes['llm.usage.output_tokens'] = s.usage.outputTokens;
    }
    if (s.stopReason !== null) rec.attributes['llm.stop_reason'] = text(s.stopReason, MAX_NAME_CHARS);
    if (s.toolName !== null) rec.attributes['tool.name'] = text(s.toolName, MAX_NAME_CHARS);
    if (s.circuit !== null) rec.attributes['tool.circuit'] = text(s.circuit, MAX_NAME_CHARS);
  }
  return rec;
}

/** Builds a span's redacted, bounded attribute object from its flat `[key, value, ...]` list. */
function attributes(flat: readonly unknown[], ctx: RecordContext): Record<string, AttributeValue> {
  const { redactor, bounds } = ctx;
  const max = bounds.maxAttributeChars;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) {
    // Decided on the whole captured key (`<long prefix>.password`), then stored under its redacted, cut name.
    const { rule, name: key } = redactor.keyVerdict(flat[i] as string);
    if (rule !== null) {
      out[key] = `[REDACTED:${rule}]`;
      continue;
    }
    const v = flat[i + 1];
    switch (typeof v) {
      case 'string':
        out[key] = truncateText(redactor.redactString(v), max);
        break;
      case 'number':
        out[key] = Number.isFinite(v) ? v : String(v);
        break;
      case 'boolean':
        out[key] = v;
        break;
      default:
        out[key] = Array.isArray(v) ? attributeArray(v, ctx) : truncateText(redactor.redactString(safeText(v, max * 4)), max);
    }
  }
  return out as Record<string, AttributeValue>;
}

function attributeArray(values: readonly unknown[], ctx: RecordContext): AttributeValue {
  const n = Math.min(values.length, ctx.bounds.maxItems);
  const first = values[0];
  if (typeof first === 'number' && values.every((v) => typeof v === 'number')) return values.slice(0, n);
  if (typeof first === 'boolean' && values.every((v) => typeof v === 'boolean')) return values.slice(0, n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    out.push(truncateText(ctx.redactor.redactString(typeof v === 'string' ? v : safeText(v, 400)), ctx.bounds.maxAttributeChars));
  }
  return out;
}

function bytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
}

/**
 * Cuts the record to `maxBytes` of JSON: first span inputs/outputs (largest first), then attributes (largest
 * first), then spans from the end (counted in `droppedSpans`). Never drops the trace.
 */
export function enforceByteCap(record: TraceRecord, maxBytes: number): void {
  let total = bytes(record);
  if (total <= maxBytes) return;
  record.truncated = true;
  const payloads = record.spans
    .map((span, i) => ({ i, size: bytes(span.input) + bytes(span.output) }))
    .filter((p) => p.size > 0)
    .sort((a, b) => b.size - a.size);
  for (const p of payloads) {
    if (total <= maxBytes) return;
    const span = record.spans[p.i]!;
    const before = bytes(span.input) + bytes(span.output);
    if (span.input !== undefined) span.input = truncationMarker(JSON.stringify(span.input).length);
    if (span.output !== undefined) span.output = truncationMarker(JSON.stringify(span.output).length);
    total -= before - (bytes(span.input) + bytes(span.output));
  }
  const attrs = record.spans
    .map((span, i) => ({ i, size: bytes(span.attributes) }))
    .filter((p) => p.size > 2)
    .sort((a, b) => b.size - a.size);
  for (const p of attrs) {
    if (total <= maxBytes) return;
    const span = record.spans[p.i]!;
    const cut = Object.keys(span.attributes).length;
    span.attributes = { 'agentex.dropped_attributes': cut };
    total -= p.size - bytes(span.attributes);
  }
  while (total > maxBytes && record.spans.length > 0) {
    const span = record.spans.pop()!;
    record.droppedSpans++;
    total -= bytes(span) + 1;
  }
  if (total > maxBytes && record.finalOutput !== null) {
    record.finalOutput = truncateText(record.finalOutput, 100);
  }
}

/**
 * The output cap bounds the whole output, not each of its strings: a structured output (an object or array) whose JSON
 * is longer than `max` is kept as its JSON text, cut with the usual marker. Runs after redaction.
 */
function capWhole(value: SafeJson, max: number): SafeJson {
  if (value === null || typeof value !== 'object') return value;
  const json = JSON.stringify(value);
  return json.length > max ? truncateText(json, max) : value;
}
