/**
 * Error classification shared by retry (what to retry) and the circuit breaker (what counts as a failure).
 */
import { AgentexError } from '../common/errors.js';
import { HttpStatusError } from '../common/httpStatus.js';
import { CircuitOpenError, TimeoutError } from './errors.js';

/** Error codes of network failures that usually go away on their own (Node and undici spellings). */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** How deep `cause` chains are followed (fetch wraps the socket error in `TypeError('fetch failed')`). */
const MAX_CAUSE_DEPTH = 5;

function statusOf(err: object): number | undefined {
  if (err instanceof HttpStatusError) return err.status;
  // SDK errors (OpenAI, Anthropic...) carry `status` or `statusCode`.
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? status : undefined;
}

function transientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * True for failures worth retrying: network errors (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EAI_AGAIN, undici socket
 * and timeout errors — also when wrapped as the `cause` of fetch's `TypeError('fetch failed')`), `TimeoutError`
 * (ours or the DOM one from `AbortSignal.timeout`), and HTTP 408, 429 and 5xx (`HttpStatusError` or any error with a
 * numeric `status`/`statusCode`). False for everything else, notably TypeError, RangeError, validation errors,
 * `CircuitOpenError`, `BulkheadRejectedError` and cancellations. Never throws.
 */
export function isTransientError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current !== 'object' || current === null) return false;
    if (current instanceof TimeoutError) return true;
    if (current instanceof CircuitOpenError) return false;
    if (current instanceof AgentexError && !(current instanceof HttpStatusError)) return false;
    const status = statusOf(current);
    if (status !== undefined) return transientStatus(status);
    const { code, name } = current as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return true;
    if (name === 'TimeoutError') return true;
    if (name === 'AbortError') return false;
    // Only fetch's own wrappers are worth unwrapping ('fetch failed' before the response, 'terminated' when the
    // socket dies mid-body); other TypeErrors are programming mistakes.
    if (current instanceof TypeError && !isFetchWrapper(current)) return false;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** undici's network wrappers: `TypeError('fetch failed')` and, for a body cut mid-stream, `TypeError('terminated')`. */
function isFetchWrapper(err: TypeError): boolean {
  return err.message === 'fetch failed' || err.message === 'terminated';
}

/**
 * True when the error is the caller's own mistake rather than the dependency failing: TypeError (except fetch's
 * network wrapper), RangeError, SyntaxError, AgentEx errors whose `fault` is `caller` (validation, invalid options,
 * cancellation), HTTP 4xx other than 408/429, and DOM `AbortError`s. The circuit breaker does not count these as
 * failures by default. Never throws.
 */
export function isCallerError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (err instanceof AgentexError) {
    if (err instanceof HttpStatusError) return !transientStatus(err.status) && err.status >= 400 && err.status < 500;
    return err.fault === 'caller';
  }
  if (err instanceof TypeError) return !(isFetchWrapper(err) && isTransientError(err));
  if (err instanceof RangeError || err instanceof SyntaxError) return true;
  if ((err as { name?: unknown }).name === 'AbortError') return true;
  const status = statusOf(err);
  return status !== undefined && status >= 400 && status < 500 && !transientStatus(status);
}
