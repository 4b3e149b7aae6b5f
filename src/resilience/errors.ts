/**
 * Errors thrown by the resilience policies. Each has a stable `code` and an `isX()` guard.
 * `HttpStatusError` (thrown by HTTP callers so policies can classify responses) lives in `common/httpStatus.ts`.
 */
import { AgentexError } from '../common/errors.js';

export { HttpStatusError, isHttpStatusError, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../common/httpStatus.js';

/** The circuit is open (or half-open with all probe slots taken): the call was rejected without running. */
export class CircuitOpenError extends AgentexError {
  readonly code = 'CIRCUIT_OPEN';
  readonly fault = 'system';

  constructor(
    /** Name of the circuit that rejected the call. */
    readonly circuit: string,
    /** Milliseconds until the circuit lets a probe through (0 when half-open and busy). */
    readonly retryAfterMs: number,
  ) {
    super(`Circuit "${circuit}" is open; retry after ${Math.ceil(retryAfterMs)} ms`);
  }
}

/** The call did not finish in time; its signal was aborted. */
export class TimeoutError extends AgentexError {
  readonly code = 'TIMEOUT';
  readonly fault = 'system';

  constructor(readonly timeoutMs: number) {
    super(`Operation timed out after ${timeoutMs} ms`);
  }
}

/** The bulkhead was full (all slots and the queue taken): the call was rejected without running. */
export class BulkheadRejectedError extends AgentexError {
  readonly code = 'BULKHEAD_FULL';
  readonly fault = 'system';

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    super(`Bulkhead full: ${maxConcurrent} running and ${maxQueue} queued`);
  }
}

/** The caller's signal aborted the operation (not a timeout of ours). */
export class CancelledError extends AgentexError {
  readonly code = 'CANCELLED';
  readonly fault = 'caller';

  constructor(reason?: unknown) {
    super('Operation was cancelled', reason === undefined ? undefined : { cause: reason });
  }
}

/** Every provider of a fallback chain failed; `errors` holds each cause in order. */
export class FallbackExhaustedError extends AgentexError {
  readonly code = 'FALLBACK_EXHAUSTED';
  readonly fault = 'system';

  constructor(
    readonly errors: readonly { provider: string; error: Error }[],
  ) {
    super(
      `All ${errors.length} providers failed: ${errors.map((e) => `${e.provider}: ${e.error.message}`).join('; ')}`,
    );
  }
}

export function isCircuitOpenError(err: unknown): err is CircuitOpenError {
  return err instanceof CircuitOpenError;
}
export function isTimeoutError(err: unknown): err is TimeoutError {
  return err instanceof TimeoutError;
}
export function isBulkheadRejectedError(err: unknown): err is BulkheadRejectedError {
  return err instanceof BulkheadRejectedError;
}
export function isCancelledError(err: unknown): err is CancelledError {
  return err instanceof CancelledError;
}
export function isFallbackExhaustedError(err: unknown): err is FallbackExhaustedError {
  return err instanceof FallbackExhaustedError;
}

/** A circuit registry already holds its maximum number of circuits; the new one was not created. */
export class RegistryFullError extends AgentexError {
  readonly code = 'REGISTRY_FULL';
  readonly fault = 'caller';

  constructor(readonly maxCircuits: number) {
    super(`Circuit registry is full (${maxCircuits} circuits); dispose unused circuits or raise maxCircuits`);
  }
}

export function isRegistryFullError(err: unknown): err is RegistryFullError {
  return err instanceof RegistryFullError;
}
