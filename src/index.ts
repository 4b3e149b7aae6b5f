/**
 * agentex — make LLM agents survivable and debuggable in production.
 *
 * The root names its public exports one by one and never pulls in the HTTP server or a database driver:
 * the stores live at `agentex/store` and `agentex/state`, the service at `agentex/server`, the provider
 * emulators at `agentex/emulators`.
 */

// Errors shared by every part.
export { AgentexError, InvalidOptionsError, ValidationError, isAgentexError, isInvalidOptionsError, isValidationError } from './common/errors.js';
export type { ErrorFault } from './common/errors.js';

// Resilience.
export {
  circuitBreaker,
  CircuitBreaker,
  CircuitRegistry,
  defaultRegistry,
  timeout,
  retry,
  fallback,
  bulkhead,
  pipeline,
  isTransientError,
  isCallerError,
  CircuitOpenError,
  TimeoutError,
  HttpStatusError,
  BulkheadRejectedError,
  CancelledError,
  FallbackExhaustedError,
  RegistryFullError,
  isCircuitOpenError,
  isTimeoutError,
  isHttpStatusError,
  isBulkheadRejectedError,
  isCancelledError,
  isFallbackExhaustedError,
  isRegistryFullError,
  parseRetryAfter,
} from './resilience/index.js';
export type {
  CircuitBreakerOptions,
  CircuitState,
  CircuitStats,
  CircuitCounts,
  CircuitPolicy,
  StateChangeEvent,
  ExecuteContext,
  GuardedFn,
  Policy,
  Disposer,
  RetryOptions,
  RetryPolicy,
  Jitter,
  TimeoutPolicy,
  FallbackChain,
  FallbackProvider,
  FallbackResult,
  BulkheadOptions,
  BulkheadPolicy,
  CircuitRegistryOptions,
} from './resilience/index.js';

// Tracing.
export {
  createTracer,
  getDefaultTracer,
  setDefaultTracer,
  withTrace,
  withSpan,
  startSpan,
  currentTrace,
  currentSpan,
  runOutsideTrace,
  NOOP_SPAN,
  NOOP_TRACE,
  redact,
  createRedactor,
  safeValue,
  createSampler,
  jsonlExporter,
  otlpExporter,
  toOtlpJson,
  newTraceId,
  newSpanId,
  isTraceId,
  isSpanId,
  parseTraceparent,
  formatTraceparent,
  DEFAULT_BOUNDS,
  TRACE_STATUSES,
  SPAN_KINDS,
} from './trace/index.js';
export type {
  TraceParent,
  Tracer,
  TracerOptions,
  TracerStats,
  TraceEndEvent,
  Span,
  Trace,
  TraceOptions,
  TraceBounds,
  RedactorOptions,
  ProcessorStats,
  TraceStatus,
  SpanKind,
  SpanStatus,
  KeepReason,
  SpanError,
  TokenUsage,
  AttributeValue,
  SpanRecord,
  TraceRecord,
  TraceExporter,
} from './trace/index.js';

// Tools.
export { defineTool, toolOk, toolError, createToolRegistry, webSearchTool, datetimeTool, readUrlTool, exaSearch, tavilySearch } from './tools/index.js';
export type { Tool, ToolResult, ToolContext, ToolRegistry, SearchClient, SearchResult, SearchCache } from './tools/index.js';

// Agent.
export { runAgent, guardedProvider, anthropicProvider, openaiProvider, recordingProvider, replayProvider, scriptedProvider } from './agent/index.js';
export type { RunAgentOptions, RunAgentResult, ConversationMemory, ModelProvider, ChatMessage, CompletionRequest, CompletionResponse, ToolCall } from './agent/index.js';
