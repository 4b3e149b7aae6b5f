/**
 * The error every HTTP caller here (model providers, search tools, the OTLP exporter) throws for a non-success
 * status, and the `Retry-After` parsing it uses. Resilience policies classify it; it lives here so that callers
 * need not import `resilience/`.
 */
import { AgentexError } from './errors.js';

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

export function isHttpStatusError(err: unknown): err is HttpStatusError {
  return err instanceof HttpStatusError;
}
