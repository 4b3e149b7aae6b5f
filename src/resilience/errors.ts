/**
 * Errors thrown by the resilience policies. Each has a stable `code` and an `isX()` guard.
 * `HttpStatusError` is thrown by HTTP callers (providers, tools) so policies can classify responses.
 */
import { AgentexError } from '../common/errors.js';

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

/**
 * An HTTP response with a non-success status. Throw it from HTTP callers so retry and breaker policies can tell
 * a caller's mistake (4xx) from a transient failure (408, 429, 5xx). `retryAfterMs` comes from `Retry-After`.
 */
export class HttpStatusError extends AgentexError {
  readonly code = 'HTTP_STATUS';
  readonly fault: 'caller' | 'system';
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly status: number,
    options: { message?: string; retryAfter?: string | null; retryAfterMs?: number; url?: string; now?: number } = {},
  ) {
    super(options.message ?? `HTTP ${status}${options.url ? ` from ${safeUrl(options.url)}` : ''}`);
    this.fault = status >= 400 && status < 500 && status !== 408 && status !== 429 ? 'caller' : 'system';
    this.retryAfterMs = options.retryAfterMs ?? parseRetryAfter(options.retryAfter, options.now);
  }
}

/** Strips credentials and query strings from a URL before it goes into an error message. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}

/** Largest Retry-After we honour (10 minutes); anything longer is clamped. */
export const MAX_RETRY_AFTER_MS = 600_000;

/**
 * Parses an HTTP `Retry-After` value (delta-seconds or an HTTP date) into milliseconds from `now`.
 * Returns undefined for a missing or malformed value; clamps to [0, {@link MAX_RETRY_AFTER_MS}].
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
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
export function isHttpStatusError(err: unknown): err is HttpStatusError {
  return err instanceof HttpStatusError;
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
