/**
 * Live traces: one agent run. A {@link RecordingTrace} collects spans (up to `bounds.maxSpans`, counting the rest),
 * and on `end()` hands itself to its tracer, which samples it, and — only when kept — redacts, bounds and exports it.
 */
import type { KeepReason, SpanKind, TraceStatus } from './model.js';
import { TRACE_STATUSES } from './model.js';
import { cutKey, MAX_KEY_CAPTURE_CHARS, type TraceBounds } from './bounds.js';
import { newSpanId, newTraceId, rootSpanIdOf } from './ids.js';
import { formatTraceparent } from './traceparent.js';
import { NOOP_SPAN, RecordingSpan, captureChars, captureError, nowMs, type Span } from './Span.js';
import { safeText, safeValue, type SafeJson } from './safeValue.js';
import type { SpanError } from './model.js';

/** A trace as callers see it; safe to use on the no-op trace. */
export interface Trace {
  /** 32 hex chars; an empty string on the no-op trace. */
  readonly traceId: string;
  readonly isRecording: boolean;
  /**
   * The span id of the run itself (the root span every exporter shows, parent of the top-level spans); an empty
   * string on the no-op trace.
   */
  readonly rootSpanId: string;
  /**
   * This run's W3C `traceparent` (`00-{traceId}-{rootSpanId}-{flags}`), e.g. for a response header; flags are `01`
   * once the ended trace was kept by sampling, else `00`. An empty string on the no-op trace.
   */
  traceparent(): string;
  /** Starts a child span of the trace's root (use `withSpan` to make it current). */
  startSpan(kind: SpanKind, name: string): Span;
  setUserId(userId: string | number): this;
  setAgent(agent: string): this;
  /** Merges `key: value` into the trace metadata (redacted and bounded when recorded). */
  setMetadata(key: string, value: unknown): this;
  /** The run's answer: redacted, then cut to `bounds.maxFinalOutputChars`. */
  setFinalOutput(value: unknown): this;
  setIterations(iterations: number): this;
  /** Adds one to `iterations`, returning the new count. */
  addIteration(): number;
  /** Marks the trace failed (status `error`, or `timeout` for a TimeoutError) with this error. */
  recordError(error: unknown): this;
  /** Keeps this trace whatever the sampling rate (keep reason `forced`). */
  forceKeep(): this;
  /** Ends the trace (idempotent); `withTrace` does this for you. Never throws. */
  end(status?: Exclude<TraceStatus, 'running'>): void;
}

/** What a trace needs from its tracer. */
export interface TraceSink {
  readonly bounds: TraceBounds;
  /** Called once when the trace ends; must never throw. */
  finish(trace: RecordingTrace): void;
}

/** Options of a new trace (`withTrace(options, fn)`). */
export interface TraceOptions {
  /** The agent (or skill) that runs. */
  agent?: string;
  /** Alias of `agent` for skill runs. */
  skill?: string;
  userId?: string | number;
  metadata?: Record<string, unknown>;
  /** Continue an existing trace id (32 lowercase hex, e.g. from a `traceparent` header); a new one otherwise. */
  traceId?: string;
  /**
   * With `traceId`: the caller's span (16 lowercase hex) that is the parent of this run's root span, as in a
   * `traceparent` header (see `parseTraceparent`). The run's root span then gets a fresh random id. Ignored without
   * a valid `traceId`, or when not a valid span id.
   */
  parentSpanId?: string;
}

/** True when `err` is a timeout (resilience `TimeoutError`, code `TIMEOUT`, or an abort caused by one). */
export function isTimeoutLike(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; cause?: unknown };
  return e.name === 'TimeoutError' || e.code === 'TIMEOUT' || e.code === 'ETIMEDOUT';
}

const STATUSES: ReadonlySet<string> = new Set(TRACE_STATUSES);

export class RecordingTrace implements Trace {
  readonly isRecording = true;
  readonly traceId: string;
  readonly rootSpanId: string;
  /** The caller's span this run joined (from `traceparent`), or null for a trace of our own. */
  readonly parentSpanId: string | null;
  readonly bounds: TraceBounds;
  readonly startedAt: number;
  endedAt: number | null = null;
  status: TraceStatus = 'running';
  userId: string | number | null = null;
  agent: string | null = null;
  iterations = 0;
  finalOutput: SafeJson | undefined = undefined;
  metadata: Record<string, SafeJson> | null = null;
  readonly spans: RecordingSpan[] = [];
  droppedSpans = 0;
  /** Spans started after the trace ended (not recorded either). */
  lateSpans = 0;
  forced = false;
  error: SpanError | null = null;
  keepReason: KeepReason | null = null;
  private failure: 'error' | 'timeout' | null = null;

  constructor(
    private readonly sink: TraceSink,
    traceId: string | undefined,
    parentSpanId: string | null = null,
  ) {
    this.bounds = sink.bounds;
    this.traceId = traceId ?? newTraceId();
    this.parentSpanId = traceId === undefined ? null : parentSpanId;
    this.rootSpanId = this.parentSpanId === null ? rootSpanIdOf(this.traceId) : newSpanId();
    this.startedAt = nowMs();
  }

  traceparent(): string {
    return formatTraceparent(this.traceId, this.rootSpanId, this.keepReason !== null);
  }

  /** The trace itself, so a trace and a span can both sit in the async context. */
  get trace(): RecordingTrace {
    return this;
  }

  startSpan(kind: SpanKind, name: string, parent: RecordingSpan | null = null): Span {
    if (this.endedAt !== null) {
      this.lateSpans++;
      return NOOP_SPAN;
    }
    if (this.spans.length >= this.bounds.maxSpans) {
      this.droppedSpans++;
      return NOOP_SPAN;
    }
    const span = new RecordingSpan(this, parent, kind, name);
    this.spans.push(span);
    return span;
  }

  setUserId(userId: string | number): this {
    this.userId = typeof userId === 'number' && Number.isFinite(userId) ? userId : safeText(userId, 200);
    return this;
  }

  setAgent(agent: string): this {
    this.agent = safeText(agent, 200);
    return this;
  }

  setMetadata(key: string, value: unknown): this {
    if (this.endedAt !== null) return this;
    const b = this.bounds;
    const meta = (this.metadata ??= {});
    if (!(key in meta) && Object.keys(meta).length >= b.maxItems) return this;
    meta[cutKey(typeof key === 'string' ? key : safeText(key, 200), MAX_KEY_CAPTURE_CHARS)] = safeValue(value, { maxStringChars: captureChars(b.maxAttributeChars), maxDepth: b.maxDepth, maxItems: b.maxItems });
    return this;
  }

  setFinalOutput(value: unknown): this {
    if (this.endedAt !== null) return this;
    const b = this.bounds;
    this.finalOutput = safeValue(value, { maxStringChars: captureChars(b.maxFinalOutputChars), maxDepth: b.maxDepth, maxItems: b.maxItems });
    return this;
  }

  setIterations(iterations: number): this {
    if (Number.isFinite(iterations) && iterations >= 0) this.iterations = Math.floor(iterations);
    return this;
  }

  addIteration(): number {
    return ++this.iterations;
  }

  recordError(error: unknown): this {
    if (this.endedAt !== null) return this;
    this.error = captureError(error, this.bounds.maxErrorChars);
    this.failure = isTimeoutLike(error) ? 'timeout' : 'error';
    return this;
  }

  forceKeep(): this {
    this.forced = true;
    return this;
  }

  end(status?: Exclude<TraceStatus, 'running'>): void {
    if (this.endedAt !== null) return;
    this.endedAt = nowMs();
    this.status = status !== undefined && STATUSES.has(status) && (status as string) !== 'running' ? status : (this.failure ?? 'success');
    this.sink.finish(this);
  }
}

class NoopTrace implements Trace {
  readonly traceId = '';
  readonly rootSpanId = '';
  readonly isRecording = false;
  traceparent(): string {
    return '';
  }
  startSpan(): Span {
    return NOOP_SPAN;
  }
  setUserId(): this {
    return this;
  }
  setAgent(): this {
    return this;
  }
  setMetadata(): this {
    return this;
  }
  setFinalOutput(): this {
    return this;
  }
  setIterations(): this {
    return this;
  }
  addIteration(): number {
    return 0;
  }
  recordError(): this {
    return this;
  }
  forceKeep(): this {
    return this;
  }
  end(): void {}
}

/** The one no-op trace: outside a trace, when tracing is disabled, or after the tracer shut down. */
export const NOOP_TRACE: Trace = Object.freeze(new NoopTrace());
