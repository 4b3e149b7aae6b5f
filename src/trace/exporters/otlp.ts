/**
 * OTLP/HTTP JSON export following the OpenTelemetry GenAI semantic conventions, so Jaeger, Tempo, Langfuse or Phoenix
 * can read AgentEx traces. Each trace becomes a root `invoke_agent {agent}` span (the run itself) with its spans
 * below: `chat {model}` for model calls, `execute_tool {tool}` for tool calls, `invoke_agent {name}` for agent spans,
 * the span name for the rest. Content (inputs, outputs, final output) is only exported with `includeContent: true`,
 * and is already redacted. `toOtlpJson` is the pure mapping (the service reuses it).
 */
import { InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertNumber } from '../../common/options.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { isSpanId, rootSpanIdOf } from '../ids.js';
import { TRACE_CONTEXT_KEY, type AttributeValue, type SpanRecord, type TraceContextMetadata, type TraceExporter, type TraceRecord } from '../model.js';

/** OTLP span kinds (proto values). */
const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_CLIENT = 3;
/** OTLP status codes: UNSET for success (per the OTel guidance), ERROR for failures. */
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;
/** W3C trace flags `sampled` plus OTLP's HAS_IS_REMOTE bit (the parent is known to be local). */
const SPAN_FLAGS = 0x101;
/** The same with IS_REMOTE: the root span of a run that joined a caller's trace has a parent in another process. */
const SPAN_FLAGS_REMOTE_PARENT = 0x301;
/** Characters kept of a content attribute (JSON of a redacted input/output). */
export const MAX_CONTENT_ATTRIBUTE_CHARS = 8192;
export const DEFAULT_OTLP_URL = 'http://127.0.0.1:4318/v1/traces';
export const OTLP_SCOPE_NAME = 'agentex';

/** Options of the pure mapping {@link toOtlpJson}. */
export interface OtlpMappingOptions {
  /** Export inputs, outputs and final output as attributes (already redacted). Default false. */
  includeContent?: boolean;
  /** Extra resource attributes, merged over those derived from each trace's `metadata.service`. */
  resourceAttributes?: Record<string, AttributeValue>;
}

/** Options of {@link otlpExporter}. */
export interface OtlpExporterOptions extends OtlpMappingOptions {
  /** The collector's traces endpoint. Default {@link DEFAULT_OTLP_URL}. */
  url?: string;
  /** Extra request headers (e.g. an API key for a hosted backend). */
  headers?: Record<string, string>;
  /** Exporter name in stats. Default `'otlp'`. */
  name?: string;
  /** Per-request timeout in ms (the processor also bounds each attempt). Default 10000. */
  timeoutMs?: number;
}

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number;
  doubleValue?: number;
  arrayValue?: { values: OtlpAnyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount: number;
  events: { timeUnixNano: string; name: string; attributes: OtlpKeyValue[]; droppedAttributesCount: number }[];
  droppedEventsCount: number;
  status: { code: number; message?: string };
  links: never[];
  droppedLinksCount: number;
  flags: number;
}
/** An OTLP/JSON `ExportTraceServiceRequest`. */
export interface OtlpTraceRequest {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[]; droppedAttributesCount: number };
    scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
}

function anyValue(v: unknown): OtlpAnyValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  }
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => anyValue(x)) } };
  return { stringValue: JSON.stringify(v) ?? '' };
}

function kv(key: string, value: AttributeValue): OtlpKeyValue {
  return { key, value: anyValue(value) };
}

function nanos(ms: number): string {
  // Whole microseconds, then ×1000: exact in a string, without float drift at nanosecond scale.
  return `${BigInt(Math.round(ms * 1000)) * 1000n}`;
}

function content(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > MAX_CONTENT_ATTRIBUTE_CHARS ? `${text.slice(0, MAX_CONTENT_ATTRIBUTE_CHARS)}…[truncated ${text.length - MAX_CONTENT_ATTRIBUTE_CHARS} chars]` : text;
}

/** The id of the synthesized root span of a trace of our own: stable for a trace id (its random right half). */
export function rootSpanId(traceId: string): string {
  return rootSpanIdOf(traceId);
}

/** The root span's id and parent: from the joined caller's context when the run had one, else derived. */
function rootContext(trace: TraceRecord): { spanId: string; parentSpanId: string | undefined } {
  const ctx = trace.metadata[TRACE_CONTEXT_KEY] as Partial<TraceContextMetadata> | undefined;
  if (ctx && typeof ctx === 'object' && isSpanId(ctx.rootSpanId) && isSpanId(ctx.parentSpanId)) {
    return { spanId: ctx.rootSpanId, parentSpanId: ctx.parentSpanId };
  }
  return { spanId: rootSpanIdOf(trace.traceId), parentSpanId: undefined };
}

function resourceAttributes(trace: TraceRecord, extra: Record<string, AttributeValue> | undefined): OtlpKeyValue[] {
  const service = (trace.metadata.service ?? {}) as Partial<{
    serviceName: string;
    serviceVersion: string;
    host: string;
    pid: number;
    nodeVersion: string;
    labels: Record<string, string>;
  }>;
  const attrs: Record<string, AttributeValue> = { 'service.name': service.serviceName ?? 'agentex' };
  if (service.serviceVersion) attrs['service.version'] = service.serviceVersion;
  if (service.host) attrs['host.name'] = service.host;
  if (typeof service.pid === 'number') attrs['process.pid'] = service.pid;
  if (service.nodeVersion) {
    attrs['process.runtime.name'] = 'nodejs';
    attrs['process.runtime.version'] = service.nodeVersion.replace(/^v/, '');
  }
  attrs['telemetry.sdk.name'] = OTLP_SCOPE_NAME;
  attrs['telemetry.sdk.language'] = 'nodejs';
  for (const [k, v] of Object.entries(service.labels ?? {})) {
    if (k === 'environment' || k === 'env') attrs['deployment.environment.name'] = v;
    attrs[`agentex.label.${k}`] = v;
  }
  Object.assign(attrs, extra);
  return Object.entries(attrs).map(([k, v]) => kv(k, v));
}

function spanName(span: SpanRecord): { name: string; op: string | null } {
  switch (span.kind) {
    case 'llm':
      return { name: `chat ${span.model ?? span.name}`, op: 'chat' };
    case 'tool':
      return { name: `execute_tool ${span.toolName ?? span.name}`, op: 'execute_tool' };
    case 'agent':
      return { name: `invoke_agent ${span.name}`, op: 'invoke_agent' };
    default:
      return { name: span.name, op: null };
  }
}

function mapSpan(trace: TraceRecord, span: SpanRecord, rootId: string, includeContent: boolean): OtlpSpan {
  const { name, op } = spanName(span);
  const attrs: OtlpKeyValue[] = [];
  if (op) attrs.push(kv('gen_ai.operation.name', op));
  attrs.push(kv('agentex.span.kind', span.kind));
  if (span.kind === 'llm') {
    if (span.model) attrs.push(kv('gen_ai.request.model', span.model));
    if (span.usage) {
      attrs.push(kv('gen_ai.usage.input_tokens', span.usage.inputTokens));
      attrs.push(kv('gen_ai.usage.output_tokens', span.usage.outputTokens));
    }
    if (span.stopReason) attrs.push(kv('gen_ai.response.finish_reasons', [span.stopReason]));
    if (includeContent && span.input !== undefined) attrs.push(kv('gen_ai.input.messages', content(span.input)));
    if (includeContent && span.output !== undefined) attrs.push(kv('gen_ai.output.messages', content(span.output)));
  } else if (span.kind === 'tool') {
    attrs.push(kv('gen_ai.tool.name', span.toolName ?? span.name));
    if (span.circuit) attrs.push(kv('agentex.circuit', span.circuit));
    if (includeContent && span.input !== undefined) attrs.push(kv('gen_ai.tool.call.arguments', content(span.input)));
    if (includeContent && span.output !== undefined) attrs.push(kv('gen_ai.tool.call.result', content(span.output)));
  } else {
    if (span.kind === 'agent') attrs.push(kv('gen_ai.agent.name', span.name));
    if (includeContent && span.input !== undefined) attrs.push(kv('agentex.input', content(span.input)));
    if (includeContent && span.output !== undefined) attrs.push(kv('agentex.output', content(span.output)));
  }
  let dropped = 0;
  for (const [k, v] of Object.entries(span.attributes)) {
    if (k === 'agentex.dropped_attributes' && typeof v === 'number') dropped = v;
    else attrs.push(kv(k, v));
  }
  const end = span.endedAt ?? trace.endedAt ?? span.startedAt;
  if (span.endedAt === null) attrs.push(kv('agentex.span.unfinished', true));
  const events: OtlpSpan['events'] = [];
  if (span.error) {
    attrs.push(kv('error.type', span.error.code ?? span.error.type));
    events.push({
      timeUnixNano: nanos(end),
      name: 'exception',
      attributes: [kv('exception.type', span.error.type), kv('exception.message', span.error.message)],
      droppedAttributesCount: 0,
    });
  }
  return {
    traceId: trace.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentId ?? rootId,
    name,
    kind: span.kind === 'llm' ? SPAN_KIND_CLIENT : SPAN_KIND_INTERNAL,
    startTimeUnixNano: nanos(span.startedAt),
    endTimeUnixNano: nanos(end),
    attributes: attrs,
    droppedAttributesCount: dropped,
    events,
    droppedEventsCount: 0,
    status: span.status === 'error' ? { code: STATUS_ERROR, message: span.error?.message ?? '' } : { code: STATUS_UNSET },
    links: [],
    droppedLinksCount: 0,
    flags: SPAN_FLAGS,
  };
}

function rootSpan(trace: TraceRecord, rootId: string, parentSpanId: string | undefined, includeContent: boolean): OtlpSpan {
  const agent = trace.agent ?? 'agent';
  const attrs: OtlpKeyValue[] = [
    kv('gen_ai.operation.name', 'invoke_agent'),
    kv('gen_ai.agent.name', agent),
    kv('agentex.trace.status', trace.status),
    kv('agentex.iterations', trace.iterations),
  ];
  if (trace.userId !== null) attrs.push(kv('user.id', String(trace.userId)));
  if (trace.keepReason) attrs.push(kv('agentex.keep_reason', trace.keepReason));
  if (trace.droppedSpans > 0) attrs.push(kv('agentex.dropped_spans', trace.droppedSpans));
  if (trace.truncated) attrs.push(kv('agentex.truncated', true));
  for (const [k, v] of Object.entries(trace.metadata)) {
    if (k === 'service' || k === 'error' || k === TRACE_CONTEXT_KEY) continue;
    attrs.push(kv(`agentex.metadata.${k}`, typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : content(v)));
  }
  if (includeContent && trace.finalOutput !== null) attrs.push(kv('agentex.final_output', trace.finalOutput));
  const failed = trace.status === 'error' || trace.status === 'timeout';
  const error = trace.metadata.error as { type?: string; message?: string; code?: string } | undefined;
  if (failed) attrs.push(kv('error.type', trace.status === 'timeout' ? 'timeout' : (error?.code ?? error?.type ?? 'error')));
  const end = trace.endedAt ?? trace.startedAt;
  return {
    traceId: trace.traceId,
    spanId: rootId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: `invoke_agent ${agent}`,
    kind: SPAN_KIND_INTERNAL,
    startTimeUnixNano: nanos(trace.startedAt),
    endTimeUnixNano: nanos(end),
    attributes: attrs,
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    status: failed ? { code: STATUS_ERROR, message: error?.message ?? trace.status } : { code: STATUS_UNSET },
    links: [],
    droppedLinksCount: 0,
    flags: parentSpanId ? SPAN_FLAGS_REMOTE_PARENT : SPAN_FLAGS,
  };
}

/**
 * Maps traces to an OTLP/JSON `ExportTraceServiceRequest` (ids as lowercase hex, times as decimal nanosecond
 * strings, as the OTLP JSON encoding requires). Traces from the same service share one `resourceSpans` entry.
 * Pure; never throws for well-formed records.
 */
export function toOtlpJson(traces: readonly TraceRecord[], options: OtlpMappingOptions = {}): OtlpTraceRequest {
  const includeContent = options.includeContent === true;
  const groups = new Map<string, { resource: OtlpKeyValue[]; spans: OtlpSpan[] }>();
  for (const trace of traces) {
    const resource = resourceAttributes(trace, options.resourceAttributes);
    const key = JSON.stringify(resource);
    let group = groups.get(key);
    if (!group) {
      group = { resource, spans: [] };
      groups.set(key, group);
    }
    const root = rootContext(trace);
    const rootId = root.spanId;
    group.spans.push(rootSpan(trace, rootId, root.parentSpanId, includeContent));
    for (const span of trace.spans) group.spans.push(mapSpan(trace, span, rootId, includeContent));
  }
  return {
    resourceSpans: [...groups.values()].map((g) => ({
      resource: { attributes: g.resource, droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: OTLP_SCOPE_NAME }, spans: g.spans }],
    })),
  };
}

class OtlpExporter implements TraceExporter {
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly mapping: OtlpMappingOptions,
  ) {}

  async export(batch: readonly TraceRecord[], signal?: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    const body = JSON.stringify(toOtlpJson(batch, this.mapping));
    const timer = AbortSignal.timeout(this.timeoutMs);
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body,
      signal: signal ? AbortSignal.any([signal, timer]) : timer,
    });
    // Drain the body so the connection is reused; its content is not needed (partial success is not retried).
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new HttpStatusError(res.status, { retryAfter: res.headers.get('retry-after'), url: this.url });
  }
}

/**
 * An OTLP/HTTP JSON exporter (`POST {url}` with `content-type: application/json`). A non-2xx answer rejects with
 * `HttpStatusError`, which the processor retries.
 * @throws InvalidOptionsError for unknown keys, a URL that is not http(s), non-string headers, a bad timeout.
 * @example createTracer({ exporters: [otlpExporter({ url: 'http://127.0.0.1:4318/v1/traces' })] })
 */
export function otlpExporter(options: OtlpExporterOptions = {}): TraceExporter {
  const where = 'otlpExporter';
  assertKnownKeys(where, options, ['url', 'headers', 'name', 'timeoutMs', 'includeContent', 'resourceAttributes']);
  const url = options.url ?? DEFAULT_OTLP_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidOptionsError(`${where}.url`, `Expected \`url\` to use http or https, got ${parsed.protocol}`);
  }
  const headers = options.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new InvalidOptionsError(`${where}.headers`, 'Expected `headers` to be an object of strings');
  }
  if (options.includeContent !== undefined && typeof options.includeContent !== 'boolean') {
    throw new InvalidOptionsError(`${where}.includeContent`, 'Expected `includeContent` to be a boolean');
  }
  if (options.resourceAttributes !== undefined && (typeof options.resourceAttributes !== 'object' || options.resourceAttributes === null)) {
    throw new InvalidOptionsError(`${where}.resourceAttributes`, 'Expected `resourceAttributes` to be an object');
  }
  const timeoutMs = options.timeoutMs === undefined ? 10_000 : assertNumber(where, 'timeoutMs', options.timeoutMs, { integer: true, min: 1 });
  const name = options.name ?? 'otlp';
  return new OtlpExporter(name, url, { ...headers }, timeoutMs, {
    includeContent: options.includeContent === true,
    resourceAttributes: options.resourceAttributes,
  });
}
