/**
 * agentex — make LLM agents survivable and debuggable in production.
 * The root names its public exports one by one; it never pulls in the HTTP server or a database driver.
 */
export { TRACE_STATUSES, SPAN_KINDS } from './trace/model.js';
export type {
  TraceStatus,
  SpanKind,
  SpanStatus,
  KeepReason,
  SpanError,
  TokenUsage,
  AttributeValue,
  LlmSpanRecord,
  ToolSpanRecord,
  OtherSpanRecord,
  SpanRecord,
  TraceRecord,
  TraceExporter,
} from './trace/model.js';
