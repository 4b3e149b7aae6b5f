/**
 * OTLP/HTTP trace ingest: decodes an `ExportTraceServiceRequest` (JSON encoding) into our trace model.
 * What a span means (kind, model, tokens, tool, input/output, user, session, agent) comes from the four span
 * conventions mapped in `otlpConventions.ts`: OpenTelemetry GenAI, the Vercel AI SDK, OpenInference and OpenLLMetry.
 * Invalid spans are rejected one by one (counted for the OTLP partial-success answer), never the whole request.
 * Redaction, bounds and sampling are applied afterwards by the tracing core, as for our own traces.
 */
import type { AttributeValue, SpanRecord, TokenUsage, TraceRecord } from '../trace/model.js';
import { mapSpan, type ConventionEvent, type MappedUsage } from './otlpConventions.js';

/** Spans accepted in one request; more are rejected and counted. */
export const MAX_SPANS_PER_REQUEST = 10_000;
/**
 * Attributes decoded per span, before convention mapping folds indexed message attributes into input/output; the
 * rest are dropped and counted in `agentex.dropped_attributes`. The tracing core caps the stored attributes again.
 */
export const MAX_ATTRIBUTES_PER_SPAN = 1_024;
/** Span events read per span (for exceptions and message contents); the rest are ignored. */
export const MAX_EVENTS_PER_SPAN = 128;

export interface DecodedOtlp {
  traces: TraceRecord[];
  acceptedSpans: number;
  rejectedSpans: number;
  /** First reason a span was rejected, for the partial-success message. */
  errorMessage: string;
}

interface OtlpKeyValue {
  key?: unknown;
  value?: unknown;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** OTLP JSON allows ids as hex (the spec) — some senders use base64 (protobuf JSON mapping): accept both. */
function normaliseId(value: unknown, bytes: 16 | 8): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const lower = value.toLowerCase();
  const hexRe = bytes === 16 ? HEX32 : HEX16;
  if (hexRe.test(lower)) return lower === (bytes === 16 ? ZERO32 : ZERO16) ? null : lower;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const buf = Buffer.from(value, 'base64');
    if (buf.length === bytes) {
      const hex = buf.toString('hex');
      return hex === (bytes === 16 ? ZERO32 : ZERO16) ? null : hex;
    }
  }
  return null;
}

function anyValue(value: unknown, depth = 0): AttributeValue | undefined {
  if (value === null || typeof value !== 'object' || depth > 2) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isFinite(n) ? n : undefined;
  }
  if (v.doubleValue !== undefined) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof v.bytesValue === 'string') return `[bytes ${Buffer.from(v.bytesValue, 'base64').length}]`;
  if (v.arrayValue && typeof v.arrayValue === 'object') {
    const values = (v.arrayValue as { values?: unknown }).values;
    if (!Array.isArray(values)) return [];
    const items = values.slice(0, 64).map((x) => anyValue(x, depth + 1));
    if (items.every((x) => typeof x === 'string')) return items;
    if (items.every((x) => typeof x === 'number')) return items;
    if (items.every((x) => typeof x === 'boolean')) return items;
    return items.map((x) => (x === undefined ? '' : JSON.stringify(x)));
  }
  if (v.kvlistValue && typeof v.kvlistValue === 'object') {
    const values = (v.kvlistValue as { values?: unknown }).values;
    return JSON.stringify(attributes(values).attrs);
  }
  return undefined;
}

function attributes(list: unknown): { attrs: Record<string, AttributeValue>; dropped: number } {
  const attrs: Record<string, AttributeValue> = {};
  let dropped = 0;
  if (!Array.isArray(list)) return { attrs, dropped };
  for (const kv of list as OtlpKeyValue[]) {
    if (kv === null || typeof kv !== 'object' || typeof kv.key !== 'string' || kv.key === '') continue;
    const value = anyValue(kv.value);
    if (value === undefined) continue;
    if (Object.keys(attrs).length >= MAX_ATTRIBUTES_PER_SPAN) {
      dropped++;
      continue;
    }
    attrs[kv.key] = value;
  }
  return { attrs, dropped };
}

/** Nanoseconds (string or number, as OTLP JSON sends them) → epoch milliseconds, or null. */
function nanosToMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value / 1e6 : null;
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return null;
  const ns = BigInt(value);
  if (ns === 0n) return null;
  return Number(ns / 1000n) / 1000;
}

function str(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

interface PendingSpan {
  traceId: string;
  span: SpanRecord;
  resource: Record<string, AttributeValue>;
  userId?: string;
  agent?: string;
  sessionId?: string;
}

function tokenUsage(u: MappedUsage | undefined): TokenUsage | undefined {
  if (u === undefined || (u.input === undefined && u.output === undefined)) return undefined;
  return {
    inputTokens: u.input ?? 0,
    outputTokens: u.output ?? 0,
    ...(u.cacheRead !== undefined ? { cacheReadTokens: u.cacheRead } : {}),
    ...(u.cacheWrite !== undefined ? { cacheWriteTokens: u.cacheWrite } : {}),
  };
}

function decodeSpan(raw: unknown, resource: Record<string, AttributeValue>): PendingSpan | string {
  if (raw === null || typeof raw !== 'object') return 'span is not an object';
  const s = raw as Record<string, unknown>;
  const traceId = normaliseId(s.traceId, 16);
  if (!traceId) return 'invalid traceId (expected 32 hex characters, not all zero)';
  const spanId = normaliseId(s.spanId, 8);
  if (!spanId) return 'invalid spanId (expected 16 hex characters, not all zero)';
  const parentId = s.parentSpanId === undefined || s.parentSpanId === '' ? null : normaliseId(s.parentSpanId, 8);
  if (s.parentSpanId !== undefined && s.parentSpanId !== '' && parentId === null) return 'invalid parentSpanId';
  const startedAt = nanosToMs(s.startTimeUnixNano);
  if (startedAt === null) return 'invalid startTimeUnixNano';
  const endedAt = s.endTimeUnixNano === undefined ? null : nanosToMs(s.endTimeUnixNano);
  if (endedAt !== null && endedAt < startedAt) return 'endTimeUnixNano before startTimeUnixNano';
  const name = typeof s.name === 'string' && s.name !== '' ? s.name : 'unnamed';

  const { attrs, dropped } = attributes(s.attributes);
  if (dropped > 0) attrs['agentex.dropped_attributes'] = dropped;
  const events: ConventionEvent[] = [];
  if (Array.isArray(s.events)) {
    for (const e of (s.events as { name?: unknown; attributes?: unknown }[]).slice(0, MAX_EVENTS_PER_SPAN)) {
      if (e && typeof e === 'object' && typeof e.name === 'string') events.push({ name: e.name, attributes: attributes(e.attributes).attrs });
    }
  }
  const mapped = mapSpan(name, attrs, events, resource);
  for (const key of mapped.consumed) delete attrs[key];
  const kind = mapped.kind;
  const status = (s.status ?? {}) as { code?: unknown; message?: unknown };
  const code = status.code === 2 || status.code === 'STATUS_CODE_ERROR' ? 'error' : 'ok';

  let error: SpanRecord['error'];
  if (code === 'error') {
    const exception = events.find((e) => e.name === 'exception')?.attributes ?? {};
    error = {
      type: str(exception['exception.type']) ?? mapped.error?.type ?? str(attrs['error.type']) ?? 'Error',
      message: str(exception['exception.message']) ?? (typeof status.message === 'string' && status.message !== '' ? status.message : (mapped.error?.message ?? 'error')),
    };
  }
  if (mapped.sessionId !== undefined && attrs['session.id'] === undefined) attrs['session.id'] = mapped.sessionId;
  const base = {
    spanId,
    parentId,
    name,
    startedAt,
    endedAt,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    status: endedAt === null ? ('running' as const) : code === 'error' ? ('error' as const) : ('ok' as const),
    ...(error ? { error } : {}),
    ...(mapped.input !== undefined ? { input: mapped.input } : {}),
    ...(mapped.output !== undefined ? { output: mapped.output } : {}),
    attributes: attrs,
  };
  let span: SpanRecord;
  if (kind === 'llm') {
    span = { ...base, kind, model: mapped.model, usage: tokenUsage(mapped.usage), stopReason: mapped.stopReason };
  } else if (kind === 'tool') {
    span = { ...base, kind, toolName: mapped.toolName };
  } else {
    span = { ...base, kind };
  }
  const userId = mapped.userId;
  const agent = mapped.agent;
  const sessionId = mapped.sessionId;
  return { traceId, span, resource, ...(userId ? { userId } : {}), ...(agent ? { agent } : {}), ...(sessionId ? { sessionId } : {}) };
}

/** One span as decoded (JSON shape) with the attributes of its resource. */
export interface RawOtlpSpan {
  raw: unknown;
  resource: Record<string, AttributeValue>;
}

/** The spans of an OTLP JSON-shaped request, one by one. Throws when the body is not an OTLP request at all. */
export function* otlpJsonSpans(body: unknown): Generator<RawOtlpSpan> {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { resourceSpans?: unknown }).resourceSpans)) {
    throw new TypeError('body must be an ExportTraceServiceRequest with a resourceSpans array');
  }
  for (const rs of (body as { resourceSpans: unknown[] }).resourceSpans) {
    if (rs === null || typeof rs !== 'object') continue;
    const resource = resourceAttributes((rs as { resource?: { attributes?: unknown } }).resource?.attributes);
    const scopeSpans = (rs as { scopeSpans?: unknown }).scopeSpans;
    if (!Array.isArray(scopeSpans)) continue;
    for (const ss of scopeSpans) {
      const spans = ss && typeof ss === 'object' ? (ss as { spans?: unknown }).spans : undefined;
      if (!Array.isArray(spans)) continue;
      for (const raw of spans) yield { raw, resource };
    }
  }
}

/** A resource's attributes, decoded the way span attributes are. */
export function resourceAttributes(list: unknown): Record<string, AttributeValue> {
  return attributes(list).attrs;
}

/** Maps spans one at a time (so a caller can yield to the event loop between chunks) into traces. */
export class OtlpSpanMapper {
  private readonly byTrace = new Map<string, PendingSpan[]>();
  private accepted = 0;
  private rejected = 0;
  private errorMessage = '';

  private reject(why: string): void {
    this.rejected++;
    if (!this.errorMessage) this.errorMessage = why;
  }

  add(raw: unknown, resource: Record<string, AttributeValue>): void {
    if (this.accepted >= MAX_SPANS_PER_REQUEST) {
      this.reject(`more than ${MAX_SPANS_PER_REQUEST} spans in one request`);
      return;
    }
    const decoded = decodeSpan(raw, resource);
    if (typeof decoded === 'string') {
      this.reject(decoded);
      return;
    }
    this.accepted++;
    const list = this.byTrace.get(decoded.traceId);
    if (list) list.push(decoded);
    else this.byTrace.set(decoded.traceId, [decoded]);
  }

  result(): DecodedOtlp {
    const traces: TraceRecord[] = [];
    for (const [traceId, pending] of this.byTrace) traces.push(assemble(traceId, pending));
    return { traces, acceptedSpans: this.accepted, rejectedSpans: this.rejected, errorMessage: this.errorMessage };
  }
}

/**
 * Decodes an OTLP JSON `ExportTraceServiceRequest` into traces (one per trace id in the request).
 * Throws only when the body is not an OTLP request at all (the caller answers 400).
 */
export function decodeOtlpJson(body: unknown): DecodedOtlp {
  const mapper = new OtlpSpanMapper();
  for (const { raw, resource } of otlpJsonSpans(body)) mapper.add(raw, resource);
  return mapper.result();
}

function assemble(traceId: string, pending: PendingSpan[]): TraceRecord {
  const ids = new Set(pending.map((p) => p.span.spanId));
  const roots = pending.filter((p) => p.span.parentId === null || !ids.has(p.span.parentId));
  const root = roots.find((p) => p.span.parentId === null) ?? roots[0] ?? pending[0]!;
  const startedAt = Math.min(...pending.map((p) => p.span.startedAt));
  const ends = pending.map((p) => p.span.endedAt);
  const endedAt = ends.every((e) => e !== null) ? Math.max(...(ends)) : null;
  const anyError = pending.some((p) => p.span.status === 'error');
  const resource = root.resource;
  const iterations = pending.filter((p) => p.span.kind === 'llm').length;
  const sessionId = pending.find((p) => p.sessionId)?.sessionId;
  return {
    traceId,
    userId: pending.find((p) => p.userId)?.userId ?? null,
    agent: pending.find((p) => p.agent)?.agent ?? str(resource['service.name']) ?? null,
    startedAt,
    endedAt,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    status: endedAt === null ? 'running' : anyError ? 'error' : 'success',
    iterations,
    finalOutput: typeof root.span.output === 'string' ? root.span.output : null,
    metadata: { source: 'otlp', resource, ...(sessionId ? { sessionId } : {}) },
    spans: pending.map((p) => p.span),
    droppedSpans: 0,
    truncated: false,
  };
}
