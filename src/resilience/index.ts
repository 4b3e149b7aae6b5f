/** Public surface of the resilience core. Everything else in this folder is internal. */
export { circuitBreaker, CircuitBreaker, MAX_ERROR_MESSAGE_LENGTH, MAX_WINDOW_SIZE } from './CircuitBreaker.js';
export type {
  CircuitBreakerOptions,
  CircuitBreakerPolicy,
  CircuitCounts,
  CircuitPolicy,
  CircuitState,
  CircuitStats,
  CircuitTimeoutEvent,
  FailureEvent,
  RejectedEvent,
  StateChangeEvent,
  StateChangeReason,
  SuccessEvent,
} from './CircuitBreaker.js';
export { CircuitRegistry, defaultRegistry, DEFAULT_MAX_CIRCUITS } from './CircuitRegistry.js';
export type { CircuitRegistryOptions } from './CircuitRegistry.js';
export type { ExecuteContext, GuardedFn, Policy } from './context.js';
export type { Disposer, Listener } from './Emitter.js';
export {
  BulkheadRejectedError,
  CancelledError,
  CircuitOpenError,
  FallbackExhaustedError,
  HttpStatusError,
  MAX_RETRY_AFTER_MS,
  RegistryFullError,
  TimeoutError,
  isBulkheadRejectedError,
  isCancelledError,
  isCircuitOpenError,
  isFallbackExhaustedError,
  isHttpStatusError,
  isRegistryFullError,
  isTimeoutError,
  parseRetryAfter,
} from './errors.js';
export { timeout } from './timeout.js';
export type { TimeoutEvent, TimeoutPolicy } from './timeout.js';
export { retry } from './retry.js';
export type { Jitter, RetryEvent, RetryOptions, RetryPolicy } from './retry.js';
export { fallback } from './fallback.js';
export type { FallbackChain, FallbackEvent, FallbackFailure, FallbackOptions, FallbackProvider, FallbackResult } from './fallback.js';
export { bulkhead } from './bulkhead.js';
export type { BulkheadOptions, BulkheadPolicy, BulkheadRejectedEvent, BulkheadStats } from './bulkhead.js';
export { pipeline } from './pipeline.js';
export { isCallerError, isTransientError, TRANSIENT_NETWORK_CODES } from './transient.js';
export { memoryCircuitStateStore, applyCircuitOp, MAX_PROBE_LEASES } from './CircuitStateStore.js';
export type { CircuitStateStore, CircuitStateOp, CircuitOpResult, CircuitChange, SharedCircuitRecord, StoredCircuit } from './CircuitStateStore.js';
