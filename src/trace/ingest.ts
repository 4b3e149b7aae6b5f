/**
 * Traces that arrive from outside (the service's OTLP/HTTP ingest decodes other agents' spans into
 * {@link TraceRecord}s) become {@link TraceSource}s here: validated, rendered JSON-safe and capped exactly as the live
 * span setters cap what they are given (the same capture caps, `safeValue` limits and attribute count), so that
 * `buildTraceRecord` — the one implementation of redaction and final bounds — treats them like our own traces.
 * Nothing from outside is trusted: any value may be of any type, and a record that is not a well-formed trace
 * yields null (counted as dropped by the tracer) instead of an exception.
 */
import type { SpanError, SpanKind, SpanStatus, TokenUsage, TraceRecord, TraceStatus } from './model.js';
import { SPAN_KINDS, TRACE_STATUSES } from './model.js';
import { isSpanId, isTraceId } from './ids.js';
import { cutKey, MAX_KEY_CAPTURE_CHARS, MAX_NAME_CHARS, truncateText, type TraceBounds } from './bounds.js';
import { captureChars, captureError } from './Span.js';
import { safeText, safeValue, type SafeJson } from './safeValue.js';
import type { SpanSource, TraceSource } from './record.js';

const KINDS: ReadonlySet<string> = new Set(SPAN_KINDS);
const TRACE_STATUS_SET: ReadonlySet<string> = new Set(TRACE_STATUSES);
const SPAN_STATUSES: ReadonlySet<string> = new Set<SpanStatus>(['running', 'ok', 'error']);
/** Attribute under which an upstream sender reports attributes it already dropped; merged into our own count. */
const DROPPED_ATTRIBUTES_KEY = 'agentex.dropped_attributes';

type Loose = Record<string, unknown>;

function isObject(value: unknown): value is Loose {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function optionalText(value: unknown, max: number): string | null {
  return value === undefined || value === null ? null : safeText(value, max);
}

/**
 * Validates an ingested trace and captures it within `bounds`. Returns null when it is malformed: not an object, a
 * trace id that is not 32 lowercase hex (not all zeros), an unknown trace status, a start time that is not a finite
 * number or an end before it, spans that are not an array, or any span with a bad span/parent id, kind, status or times.
 */
export function toTraceSource(record: unknown, bounds: TraceBounds): TraceSource | null {
  if (!isObject(record)) return null;
  const r = record as Partial<Record<keyof TraceRecord, unknown>>;
  if (!isTraceId(r.traceId)) return null;
  if (typeof r.status !== 'string' || !TRACE_STATUS_SET.has(r.status)) return null;
  if (!isTime(r.startedAt)) return null;
  const endedAt = r.endedAt === undefined || r.endedAt === null ? null : r.endedAt;
  if (endedAt !== null && (!isTime(endedAt) || endedAt < r.startedAt)) return null;
  if (!Array.isArray(r.spans)) return null;
  const raw = r.spans as unknown[];
  const kept = Math.min(raw.length, bounds.maxSpans);
  const spans: SpanSource[] = new Array<SpanSource>(kept);
  // Every span is validated, also those past the cap: a malformed record is dropped whole, not half-kept.
  for (let i = 0; i < raw.length; i++) {
    const span = i < kept ? toSpanSource(raw[i], bounds) : validSpan(raw[i]) ? null : undefined;
    if (span === undefined) return null;
    if (span !== null) spans[i] = span;
  }
  const upstreamDropped = typeof r.droppedSpans === 'number' && Number.isFinite(r.droppedSpans) && r.droppedSpans > 0 ? Math.floor(r.droppedSpans) : 0;
  const iterations = typeof r.iterations === 'number' && Number.isFinite(r.iterations) && r.iterations >= 0 ? Math.floor(r.iterations) : 0;
  const userId = typeof r.userId === 'number' && Number.isFinite(r.userId) ? r.userId : optionalText(r.userId, MAX_NAME_CHARS);
  let metadata: Record<string, SafeJson> | null = null;
  if (isObject(r.metadata)) {
    metadata = {};
    for (const key of Object.keys(r.metadata).slice(0, bounds.maxItems)) {
      metadata[cutKey(key, MAX_KEY_CAPTURE_CHARS)] = capture(r.metadata[key], bounds.maxAttributeChars, bounds);
    }
  }
  return {
    traceId: r.traceId,
    userId,
    agent: optionalText(r.agent, MAX_NAME_CHARS),
    startedAt: r.startedAt,
    endedAt,
    status: r.status as TraceStatus,
    iterations,
    finalOutput: r.finalOutput === undefined || r.finalOutput === null ? undefined : capture(r.finalOutput, bounds.maxFinalOutputChars, bounds),
    metadata,
    error: null,
    spans,
    droppedSpans: upstreamDropped + (raw.length - kept),
    truncated: r.truncated === true,
  };
}

function validSpan(value: unknown): value is Loose {
  if (!isObject(value)) return false;
  if (!isSpanId(value.spanId)) return false;
  if (value.parentId !== null && value.parentId !== undefined && !isSpanId(value.parentId)) return false;
  if (typeof value.kind !== 'string' || !KINDS.has(value.kind)) return false;
  if (typeof value.status !== 'string' || !SPAN_STATUSES.has(value.status)) return false;
  if (!isTime(value.startedAt)) return false;
  const end = value.endedAt;
  if (end !== null && end !== undefined && (!isTime(end) || end < value.startedAt)) return false;
  return value.attributes === undefined || value.attributes === null || isObject(value.attributes);
}

/** A validated span captured like a live one, or undefined when it is malformed. */
function toSpanSource(value: unknown, bounds: TraceBounds): SpanSource | undefined {
  if (!validSpan(value)) return undefined;
  const kind = value.kind as SpanKind;
  const { attrs, dropped } = captureAttributes(value.attributes as Loose | null | undefined, bounds);
  const llm = kind === 'llm';
  const tool = kind === 'tool';
  return {
    spanId: value.spanId as string,
    parentId: (value.parentId as string | null | undefined) ?? null,
    kind,
    name: safeText(value.name ?? 'unnamed', captureChars(MAX_NAME_CHARS)),
    startedAt: value.startedAt as number,
    endedAt: (value.endedAt as number | null | undefined) ?? null,
    status: value.status as SpanStatus,
    error: value.error === undefined || value.error === null ? null : captureForeignError(value.error, bounds.maxErrorChars),
    input: value.input === undefined ? undefined : capture(value.input, bounds.maxInputChars, bounds),
    output: value.output === undefined ? undefined : capture(value.output, tool ? bounds.maxToolOutputChars : bounds.maxOutputChars, bounds),
    attrs,
    droppedAttributes: dropped,
    model: llm ? optionalText(value.model, MAX_NAME_CHARS) : null,
    usage: llm ? captureUsage(value.usage) : null,
    stopReason: llm ? optionalText(value.stopReason, MAX_NAME_CHARS) : null,
    toolName: tool ? optionalText(value.toolName, MAX_NAME_CHARS) : null,
    circuit: tool ? optionalText(value.circuit, MAX_NAME_CHARS) : null,
  };
}

/** As `RecordingSpan.setInput`/`setOutput` capture: JSON-safe, strings at the capture cap of their final cap. */
function capture(value: unknown, finalMax: number, bounds: TraceBounds): SafeJson {
  return safeValue(value, { maxStringChars: captureChars(finalMax), maxDepth: bounds.maxDepth, maxItems: bounds.maxItems });
}

/** As `RecordingSpan.setAttribute` captures: null/undefined skipped, at most `maxAttributes`, the rest counted. */
function captureAttributes(attributes: Loose | null | undefined, bounds: TraceBounds): { attrs: unknown[] | null; dropped: number } {
  if (attributes === null || attributes === undefined) return { attrs: null, dropped: 0 };
  const attrs: unknown[] = [];
  let dropped = 0;
  for (const key of Object.keys(attributes)) {
    const v = attributes[key];
    if (v === undefined || v === null) continue;
    if (key === DROPPED_ATTRIBUTES_KEY && typeof v === 'number' && Number.isFinite(v) && v > 0) {
      dropped += Math.floor(v);
      continue;
    }
    if (attrs.length >= bounds.maxAttributes * 2) {
      dropped++;
      continue;
    }
    attrs.push(cutKey(key, MAX_KEY_CAPTURE_CHARS), captureAttribute(v, bounds));
  }
  return { attrs: attrs.length > 0 ? attrs : null, dropped };
}

/** Primitives and arrays as `setAttribute` keeps them; anything else rendered as text. All bounded; redacted later. */
function captureAttribute(v: unknown, bounds: TraceBounds): unknown {
  const cap = captureChars(bounds.maxAttributeChars);
  if (typeof v === 'string') return v.length > cap ? truncateText(v, cap) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.slice(0, bounds.maxItems).map((x: unknown) => (typeof x === 'string' ? truncateText(x, cap) : typeof x === 'object' && x !== null ? safeText(x, 400) : x));
  return safeText(v, cap);
}

function captureForeignError(error: unknown, maxChars: number): SpanError {
  if (!isObject(error)) return captureError(error, maxChars);
  const code = error.code;
  return {
    type: safeText(error.type ?? 'Error', 100),
    message: safeText(error.message ?? '', captureChars(maxChars)),
    code: typeof code === 'string' || typeof code === 'number' ? safeText(String(code), 100) : undefined,
  };
}

function captureUsage(usage: unknown): TokenUsage | null {
  if (!isObject(usage)) return null;
  const input = Number(usage.inputTokens);
  const output = Number(usage.outputTokens);
  return { inputTokens: Number.isFinite(input) ? input : 0, outputTokens: Number.isFinite(output) ? output : 0 };
}
