/**
 * The tracer ties the parts together: it starts traces, and when one ends it samples it (tail sampling), and only
 * for kept traces redacts, bounds and hands the record to the batch processor. Sampled-out traces still count in
 * `stats()` and in `onTraceEnd` events (runs, errors, durations); nothing else about them is kept.
 */
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys } from '../common/options.js';
import type { KeepReason, SpanKind, TraceExporter, TraceRecord, TraceStatus } from './model.js';
import { resolveBounds, type TraceBounds } from './bounds.js';
import { Redactor, type RedactorOptions } from './redact.js';
import { createSampler, type TailSampler } from './sampler.js';
import { collectMetadata, type MetadataOptions } from './metadata.js';
import { BatchTraceProcessor, type BatchTraceProcessorOptions, type ProcessorStats } from './processor.js';
import { buildTraceRecord, type TraceSource } from './record.js';
import { toTraceSource } from './ingest.js';
import { NOOP_TRACE, RecordingTrace, type Trace, type TraceOptions, type TraceSink } from './Trace.js';
import { currentSpan, currentTrace, runInTrace, startSpan, withSpan } from './context.js';
import type { Span } from './Span.js';
import type { SafeJson } from './safeValue.js';
import { isSpanId, isTraceId } from './ids.js';

/** Options of {@link createTracer}. Every one is optional; defaults are listed per field. */
export interface TracerOptions {
  /** False turns every trace into the no-op trace (nothing recorded, nothing counted). Default true. */
  enabled?: boolean;
  /** Where kept traces go. Default none (traces are sampled, counted and discarded). */
  exporters?: readonly TraceExporter[];
  /** Share of successful traces kept, decided from the trace id. Default 0.1. */
  sampleRate?: number;
  /** Traces at least this slow are always kept. Default 10000 ms. */
  slowThresholdMs?: number;
  /** Size caps; see `DEFAULT_BOUNDS`. */
  bounds?: Partial<TraceBounds>;
  /** Extra sensitive keys and patterns, PII mode. */
  redaction?: RedactorOptions;
  /** Service name/version and deployment labels. */
  metadata?: MetadataOptions;
  /** Queue and batching of the export processor. */
  processor?: Omit<BatchTraceProcessorOptions, 'exporters'>;
}

/** Emitted once per ended trace, kept or not: what metrics need. */
export interface TraceEndEvent {
  traceId: string;
  agent: string | null;
  status: TraceStatus;
  durationMs: number;
  spanCount: number;
  droppedSpans: number;
  kept: boolean;
  keepReason: KeepReason | null;
}

/** Counters of a tracer. `started + ingested = ended + running`; `ended = kept + sampledOut`. */
export interface TracerStats {
  started: number;
  /** Traces taken in by `ingest()` (counted in `ended` and `kept`/`sampledOut` like our own). */
  ingested: number;
  /** Records `ingest()` refused: malformed, or offered after `shutdown()` or to a disabled tracer. */
  ingestDropped: number;
  ended: number;
  kept: number;
  sampledOut: number;
  /** Traces asked for after `shutdown()` (handed the no-op trace). */
  rejectedAfterShutdown: number;
  /** Spans not recorded because their trace hit `bounds.maxSpans`. */
  droppedSpans: number;
  /** Failures inside the tracer itself while ending a trace (the traced code is never affected). */
  internalErrors: number;
  processor: ProcessorStats;
}

const TRACE_OPTION_KEYS = ['agent', 'skill', 'userId', 'metadata', 'traceId', 'parentSpanId'];

/** Creates traces and spans and exports the kept ones. Build with {@link createTracer}. */
export class Tracer implements TraceSink {
  readonly bounds: TraceBounds;
  readonly enabled: boolean;
  readonly sampler: TailSampler;
  readonly redactor: Redactor;
  private readonly processor: BatchTraceProcessor;
  private readonly service: Record<string, unknown>;
  private readonly listeners = new Set<(event: TraceEndEvent) => void>();
  private closed = false;
  private readonly counters = { started: 0, ingested: 0, ingestDropped: 0, ended: 0, kept: 0, sampledOut: 0, rejectedAfterShutdown: 0, droppedSpans: 0, internalErrors: 0 };

  constructor(options: TracerOptions = {}) {
    const where = 'tracer';
    assertKnownKeys(where, options, ['enabled', 'exporters', 'sampleRate', 'slowThresholdMs', 'bounds', 'redaction', 'metadata', 'processor']);
    const o = options ?? {};
    if (o.enabled !== undefined && typeof o.enabled !== 'boolean') {
      throw new InvalidOptionsError(`${where}.enabled`, `Expected \`enabled\` to be a boolean, got ${typeof o.enabled}`);
    }
    this.enabled = o.enabled ?? true;
    this.bounds = resolveBounds(o.bounds, `${where}.bounds`);
    this.sampler = createSampler({ sampleRate: o.sampleRate, slowThresholdMs: o.slowThresholdMs }, where);
    this.redactor = new Redactor(o.redaction ?? {}, `${where}.redaction`);
    if (o.processor !== undefined && (typeof o.processor !== 'object' || o.processor === null)) {
      throw new InvalidOptionsError(`${where}.processor`, 'Expected `processor` to be an object');
    }
    if (o.processor && 'exporters' in o.processor) {
      throw new InvalidOptionsError(`${where}.processor.exporters`, 'Pass exporters as `exporters`, not `processor.exporters`');
    }
    try {
      this.processor = new BatchTraceProcessor({ ...o.processor, exporters: o.exporters ?? [] });
    } catch (err) {
      if (err instanceof InvalidOptionsError) throw new InvalidOptionsError(err.option.replace('batchProcessor', `${where}.processor`).replace(`${where}.processor.exporters`, `${where}.exporters`), err.message);
      throw err;
    }
    const meta = collectMetadata(o.metadata, `${where}.metadata`);
    this.service = this.redactor.redactTree(meta as unknown as SafeJson) as Record<string, unknown>;
  }

  /**
   * Starts a trace without making it current; end it with `trace.end()`. Prefer {@link Tracer.withTrace}.
   * @throws InvalidOptionsError for unknown option keys or mistyped options (programming errors, caught in development).
   */
  startTrace(options: TraceOptions | string = {}): Trace {
    if (!this.enabled) return NOOP_TRACE;
    if (this.closed) {
      this.counters.rejectedAfterShutdown++;
      return NOOP_TRACE;
    }
    const o = typeof options === 'string' ? { agent: options } : options;
    assertKnownKeys('trace', o, TRACE_OPTION_KEYS);
    const traceId = o.traceId !== undefined && isTraceId(o.traceId) ? o.traceId : undefined;
    const trace = new RecordingTrace(this, traceId, o.parentSpanId !== undefined && isSpanId(o.parentSpanId) ? o.parentSpanId : null);
    this.counters.started++;
    const agent = o.agent ?? o.skill;
    if (agent !== undefined) trace.setAgent(agent);
    if (o.userId !== undefined) trace.setUserId(o.userId);
    if (o.metadata !== undefined) {
      if (o.metadata === null || typeof o.metadata !== 'object') throw new InvalidOptionsError('trace.metadata', 'Expected `metadata` to be an object');
      for (const key of Object.keys(o.metadata)) trace.setMetadata(key, o.metadata[key]);
    }
    return trace;
  }

  /**
   * Runs `fn` inside a new trace, current for everything it does and awaits; ends the trace when `fn` returns or its
   * promise settles (status `success`, or `error` / `timeout` when it throws — the error is rethrown unchanged).
   * Ending and exporting never throw into the caller, and the caller's context is always restored.
   * @example await tracer.withTrace({ agent: 'researcher', userId: 42 }, async (trace) => { ...; trace.setFinalOutput(answer) })
   */
  withTrace<T>(options: TraceOptions | string, fn: (trace: Trace) => T): T {
    return runInTrace(this.startTrace(options), fn);
  }

  /** See the module-level {@link withSpan}. */
  withSpan<T>(kind: SpanKind, name: string, fn: (span: Span) => T): T {
    return withSpan(kind, name, fn);
  }

  startSpan(kind: SpanKind, name: string): Span {
    return startSpan(kind, name);
  }

  currentTrace(): Trace {
    return currentTrace();
  }

  currentSpan(): Span {
    return currentSpan();
  }

  /** Redacts any value with this tracer's rules (built-in plus configured keys and patterns). Never throws. */
  redact(value: unknown): SafeJson {
    return this.redactor.redact(value);
  }

  /** Subscribes to ended traces (kept or sampled out); returns the unsubscribe function. Listener errors are ignored. */
  onTraceEnd(listener: (event: TraceEndEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to failed export attempts (for logging); returns the unsubscribe function. */
  onExportError(listener: Parameters<BatchTraceProcessor['onExportError']>[0]): () => void {
    return this.processor.onExportError(listener);
  }

  /** @internal Called by a trace when it ends. Never throws. */
  finish(trace: RecordingTrace): void {
    try {
      const reason = this.settle(trace, trace.forced);
      if (reason === null) return;
      trace.keepReason = reason;
      this.processor.onTraceEnd(buildTraceRecord(trace, reason, { bounds: this.bounds, redactor: this.redactor, service: this.service }));
    } catch {
      this.counters.internalErrors++;
    }
  }

  /**
   * Takes traces that arrive from outside (e.g. decoded from another agent's OTLP export) through the same path as
   * this tracer's own ended traces: each is counted (`stats()`, `onTraceEnd` events with its status and duration),
   * tail-sampled by this tracer's sampler (errors and timeouts always kept, slow ones kept, successes at the rate
   * decided from the trace id — the same verdict as for our own trace with that id), and only when kept redacted,
   * bounded (span cap, field caps, byte cap) and queued for export, where drops and losses are counted as usual.
   * A malformed record (bad trace/span/parent id, unknown kind or status, non-finite times...) is counted in
   * `dropped` (and `stats().ingestDropped`) and skipped; so is every record after `shutdown()` or when the tracer is
   * disabled. Never throws.
   * @returns How many records were kept, sampled out, and dropped (`kept + sampledOut + dropped = records.length`).
   * @example const { kept } = tracer.ingest(decodeOtlpJson(body).traces)
   */
  ingest(records: readonly TraceRecord[]): { kept: number; sampledOut: number; dropped: number } {
    const result = { kept: 0, sampledOut: 0, dropped: 0 };
    if (!Array.isArray(records)) return result;
    for (const record of records as readonly unknown[]) {
      let source: TraceSource | null = null;
      try {
        if (this.enabled && !this.closed) source = toTraceSource(record, this.bounds);
      } catch {
        this.counters.internalErrors++;
      }
      if (source === null) {
        result.dropped++;
        this.counters.ingestDropped++;
        continue;
      }
      this.counters.ingested++;
      try {
        const reason = this.settle(source, false);
        if (reason === null) {
          result.sampledOut++;
          continue;
        }
        result.kept++;
        this.processor.onTraceEnd(buildTraceRecord(source, reason, { bounds: this.bounds, redactor: this.redactor, service: null }));
      } catch {
        this.counters.internalErrors++;
      }
    }
    return result;
  }

  /**
   * Redacts and bounds one request's piece of an ingested trace, before it is written anywhere (the pending area of
   * OTLP ingest holds only what this returns). Not counted as an ended trace and not sampled: that happens once the
   * trace is assembled ({@link Tracer.settleIngested}). Returns null for a malformed record, counted in `ingestDropped`,
   * and after `shutdown()` or when disabled. Never throws.
   */
  prepareIngested(record: TraceRecord): TraceRecord | null {
    try {
      const source = this.enabled && !this.closed ? toTraceSource(record, this.bounds) : null;
      if (source !== null) return buildTraceRecord(source, 'ingest', { bounds: this.bounds, redactor: this.redactor, service: null });
    } catch {
      this.counters.internalErrors++;
    }
    this.counters.ingestDropped++;
    return null;
  }

  /**
   * Ends an assembled ingested trace: counted (`stats().ingested`, `onTraceEnd`), tail-sampled on the whole trace
   * (an error in any span keeps it), and bounded again (span cap and byte cap over the union of its pieces).
   * With `decided` (the trace is stored already: sampling was decided when it was first finalized) it is bounded
   * and returned as kept without counting it again. Returns the record and the verdict; the record is returned even
   * when sampled out (the store then deletes its pending spans). Null for a malformed record. Never throws.
   */
  settleIngested(record: TraceRecord, decided = false): { record: TraceRecord; keep: boolean } | null {
    try {
      // Not refused after shutdown: the spans were acknowledged already and are finalized on the way out.
      const source = this.enabled ? toTraceSource(record, this.bounds) : null;
      if (source === null) {
        this.counters.ingestDropped++;
        return null;
      }
      const ctx = { bounds: this.bounds, redactor: this.redactor, service: null };
      if (decided) return { record: buildTraceRecord(source, record.keepReason ?? 'ingest', ctx), keep: true };
      this.counters.ingested++;
      const reason = this.settle(source, false);
      return { record: buildTraceRecord(source, reason ?? 'rate', ctx), keep: reason !== null };
    } catch {
      this.counters.internalErrors++;
      return null;
    }
  }

  /** Counts an ended trace, decides its sampling and tells the listeners; returns the keep reason or null. */
  private settle(trace: TraceSource, forced: boolean): KeepReason | null {
    const c = this.counters;
    c.ended++;
    c.droppedSpans += trace.droppedSpans;
    const durationMs = endOf(trace) - trace.startedAt;
    const reason = this.sampler.decide({ traceId: trace.traceId, status: trace.status, durationMs, forced });
    if (reason === null) c.sampledOut++;
    else c.kept++;
    if (this.listeners.size > 0) {
      const event: TraceEndEvent = {
        traceId: trace.traceId,
        agent: trace.agent,
        status: trace.status,
        durationMs,
        spanCount: trace.spans.length,
        droppedSpans: trace.droppedSpans,
        kept: reason !== null,
        keepReason: reason,
      };
      for (const l of this.listeners) {
        try {
          l(event);
        } catch {
          // A metrics listener's failure must not reach the traced code or stop the export.
        }
      }
    }
    return reason;
  }

  stats(): TracerStats {
    return { ...this.counters, processor: this.processor.stats() };
  }

  /** Exports everything kept so far and waits for in-flight exports. Never rejects. */
  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /** Stops tracing (later traces are no-ops, counted), flushes, waits for in-flight exports, shuts exporters down. */
  shutdown(): Promise<void> {
    this.closed = true;
    return this.processor.shutdown();
  }
}

/** When a trace ended: its end time, or for an ingested trace still `running` its latest span end. */
function endOf(trace: TraceSource): number {
  if (trace.endedAt !== null) return trace.endedAt;
  let end = trace.startedAt;
  for (const span of trace.spans) if (span.endedAt !== null && span.endedAt > end) end = span.endedAt;
  return end;
}

/**
 * Builds a tracer.
 * @throws InvalidOptionsError naming the option (`tracer.sampleRate`, `tracer.bounds.maxSpans`, ...) for unknown keys or bad values.
 * @example
 * const tracer = createTracer({ exporters: [otlpExporter()], sampleRate: 0.1, metadata: { serviceName: 'support-bot' } });
 */
export function createTracer(options: TracerOptions = {}): Tracer {
  return new Tracer(options);
}

let defaultTracer: Tracer | null = null;

/** The process-wide tracer used by the module-level `withTrace`; created with defaults (no exporters) on first use. */
export function getDefaultTracer(): Tracer {
  return (defaultTracer ??= new Tracer());
}

/** Replaces the process-wide tracer (e.g. one with exporters, built at startup). Returns the previous one, if any. */
export function setDefaultTracer(tracer: Tracer): Tracer | null {
  if (!(tracer instanceof Tracer)) throw new InvalidOptionsError('tracer', 'Expected a Tracer built by createTracer()');
  const previous = defaultTracer;
  defaultTracer = tracer;
  return previous;
}

/** Runs `fn` in a new trace of the default tracer; see {@link Tracer.withTrace}. */
export function withTrace<T>(options: TraceOptions | string, fn: (trace: Trace) => T): T {
  return getDefaultTracer().withTrace(options, fn);
}

/**
 * The default tracer's API as one object: `tracer.withTrace(...)`, `tracer.withSpan(...)`, `tracer.currentSpan()`...
 * Resolved on each call, so `setDefaultTracer` takes effect everywhere. No tracer is built at import time.
 */
export const tracer = Object.freeze({
  withTrace,
  withSpan,
  startSpan,
  currentTrace,
  currentSpan,
  startTrace: (options?: TraceOptions | string): Trace => getDefaultTracer().startTrace(options),
  forceFlush: (): Promise<void> => getDefaultTracer().forceFlush(),
  shutdown: (): Promise<void> => getDefaultTracer().shutdown(),
  stats: (): TracerStats => getDefaultTracer().stats(),
});
