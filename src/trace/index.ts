/** Public API of the tracing core. Nothing else in `src/trace/` is public. */
export { createTracer, getDefaultTracer, setDefaultTracer, withTrace, tracer, Tracer } from './Tracer.js';
export type { TracerOptions, TraceEndEvent, TracerStats } from './Tracer.js';
export { withSpan, startSpan, currentTrace, currentSpan, runOutsideTrace } from './context.js';
export { NOOP_SPAN } from './Span.js';
export type { Span } from './Span.js';
export { NOOP_TRACE } from './Trace.js';
export type { Trace, TraceOptions } from './Trace.js';
export { newTraceId, newSpanId, isTraceId, isSpanId, rootSpanIdOf } from './ids.js';
export { parseTraceparent, formatTraceparent, MAX_TRACEPARENT_CHARS } from './traceparent.js';
export type { TraceParent } from './traceparent.js';
export {
  DEFAULT_BOUNDS,
  DEFAULT_MAX_SPANS,
  DEFAULT_MAX_INPUT_CHARS,
  DEFAULT_MAX_TOOL_OUTPUT_CHARS,
  DEFAULT_MAX_OUTPUT_CHARS,
  DEFAULT_MAX_FINAL_OUTPUT_CHARS,
  DEFAULT_MAX_ATTRIBUTE_CHARS,
  DEFAULT_MAX_ERROR_CHARS,
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_TRACE_BYTES,
  truncateText,
} from './bounds.js';
export type { TraceBounds } from './bounds.js';
export { safeValue } from './safeValue.js';
export type { SafeJson, SafeValueLimits } from './safeValue.js';
export { redact, createRedactor, Redactor, SENSITIVE_KEYS, SENSITIVE_KEY_SUFFIXES } from './redact.js';
export type { RedactorOptions, RedactionPattern } from './redact.js';
export { createSampler, traceIdRatio, DEFAULT_SAMPLE_RATE, DEFAULT_SLOW_THRESHOLD_MS } from './sampler.js';
export type { SamplerOptions, TailSampler, SamplingInput } from './sampler.js';
export { collectMetadata, DEFAULT_LABEL_PREFIX } from './metadata.js';
export type { MetadataOptions, ServiceMetadata } from './metadata.js';
export { BatchTraceProcessor, createBatchProcessor } from './processor.js';
export type { BatchTraceProcessorOptions, ProcessorStats, ExporterStats, ExportErrorEvent } from './processor.js';
export { jsonlExporter } from './exporters/jsonl.js';
export type { JsonlExporterOptions } from './exporters/jsonl.js';
export { otlpExporter, toOtlpJson } from './exporters/otlp.js';
export type { OtlpExporterOptions, OtlpMappingOptions, OtlpTraceRequest, OtlpSpan, OtlpKeyValue, OtlpAnyValue } from './exporters/otlp.js';
export { TRACE_STATUSES, SPAN_KINDS, TRACE_CONTEXT_KEY } from './model.js';
export type {
  TraceStatus, SpanKind, SpanStatus, KeepReason, SpanError, TokenUsage, AttributeValue, LlmSpanRecord, ToolSpanRecord,
  OtherSpanRecord, SpanRecord, TraceRecord, TraceExporter, TraceContextMetadata,
} from './model.js';
