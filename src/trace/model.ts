/**
 * The trace data model: one schema per concept, shared by the tracing core, the trace store, the HTTP API,
 * the OTLP mapping and the CLI's `--json` output. Times are epoch milliseconds (fractional for spans).
 */

/** Status of a whole agent run. */
export type TraceStatus = 'running' | 'success' | 'error' | 'timeout';
/** Every known trace status, for validation of filters. */
export const TRACE_STATUSES: readonly TraceStatus[] = ['running', 'success', 'error', 'timeout'];

/** What a span stands for. */
export type SpanKind = 'agent' | 'iteration' | 'llm' | 'tool' | 'retrieval' | 'custom';
export const SPAN_KINDS: readonly SpanKind[] = ['agent', 'iteration', 'llm', 'tool', 'retrieval', 'custom'];

/** Status of one span: `running` only appears on spans still open when their trace ended. */
export type SpanStatus = 'running' | 'ok' | 'error';

/** Why a finished trace was kept by tail sampling. */
export type KeepReason = 'error' | 'timeout' | 'slow' | 'rate' | 'forced' | 'ingest';

/** An error as recorded on a span: never the raw Error, always redacted and truncated. */
export interface SpanError {
  type: string;
  message: string;
  code?: string | undefined;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** A primitive attribute value, as in OpenTelemetry. */
export type AttributeValue = string | number | boolean | readonly string[] | readonly number[] | readonly boolean[];

interface SpanBase {
  /** 16 lowercase hex chars. */
  spanId: string;
  /** The parent span's id, or null for a root span. */
  parentId: string | null;
  name: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  status: SpanStatus;
  error?: SpanError | undefined;
  /** Already redacted and truncated. */
  input?: unknown;
  /** Already redacted and truncated. */
  output?: unknown;
  attributes: Record<string, AttributeValue>;
}

/** A model call: which model, how many tokens, why it stopped. */
export interface LlmSpanRecord extends SpanBase {
  kind: 'llm';
  model?: string | undefined;
  usage?: TokenUsage | undefined;
  stopReason?: string | undefined;
}

/** A tool call: which tool, and the circuit that guarded it. */
export interface ToolSpanRecord extends SpanBase {
  kind: 'tool';
  toolName?: string | undefined;
  circuit?: string | undefined;
}

export interface OtherSpanRecord extends SpanBase {
  kind: 'agent' | 'iteration' | 'retrieval' | 'custom';
}

/** One span of a trace, tagged by `kind`. */
export type SpanRecord = LlmSpanRecord | ToolSpanRecord | OtherSpanRecord;

/**
 * Metadata key of a run that joined a caller's trace (W3C `traceparent`): `{ rootSpanId, parentSpanId }`, the run's
 * own root span id and the caller's span that is its parent. Absent for a trace of our own, whose root span id is
 * derived from the trace id. Written by the tracer after redaction (ids are not secrets); read by the OTLP mapping.
 */
export const TRACE_CONTEXT_KEY = 'traceContext';

/** The value under {@link TRACE_CONTEXT_KEY} in a trace's metadata. */
export interface TraceContextMetadata {
  rootSpanId: string;
  parentSpanId: string;
}

/** A finished (or, for `running`, in-flight) agent run with its span tree as a flat list (parentId links). */
export interface TraceRecord {
  /** 32 lowercase hex chars (W3C trace id). */
  traceId: string;
  userId: string | number | null;
  /** The agent (or skill) that ran. */
  agent: string | null;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  status: TraceStatus;
  iterations: number;
  finalOutput: string | null;
  metadata: Record<string, unknown>;
  spans: SpanRecord[];
  /** Spans not recorded because the trace hit its span cap. */
  droppedSpans: number;
  /** True when spans were dropped or fields were cut to fit the byte cap. */
  truncated: boolean;
  /** Why tail sampling kept this trace. */
  keepReason?: KeepReason | undefined;
}

/** Something that receives batches of finished, kept traces (the store, OTLP, JSON lines...). */
export interface TraceExporter {
  readonly name: string;
  /** Export one batch. Rejecting means the batch may be retried; it must not be partially applied. */
  export(batch: readonly TraceRecord[], signal?: AbortSignal): Promise<void>;
  /** Release resources; called once by the processor's shutdown. */
  shutdown?(): Promise<void>;
}
