/**
 * The batch processor's export loop, its own so that `trace/` depends on nothing but `common/`: each attempt is
 * bounded by a timeout that aborts the exporter's signal and fails the attempt whatever the exporter does; a failed
 * attempt is retried, up to `maxAttempts` in all, after a doubling backoff with full jitter capped at `maxDelayMs`,
 * stretched to an error's `retryAfterMs` (an `HttpStatusError` from `Retry-After`) — or given up when that is longer
 * than the cap. Any failure is worth another attempt here: the batch is lost otherwise, and attempts are bounded.
 */
import { AgentexError, toError } from '../common/errors.js';

/** One export attempt took longer than the export timeout; the exporter's signal was aborted. */
export class ExportTimeoutError extends AgentexError {
  readonly code = 'TIMEOUT';
  readonly fault = 'system';

  constructor(
    readonly exporter: string,
    readonly timeoutMs: number,
  ) {
    super(`Export to ${exporter} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export interface ExportRetryOptions {
  /** Total attempts, the first included. */
  maxAttempts: number;
  /** Backoff before the first retry; doubles each retry. */
  baseDelayMs: number;
  /** Cap on one backoff. */
  maxDelayMs: number;
  /** Bound on one attempt. */
  timeoutMs: number;
}

/** Runs one attempt: resolves when the exporter does, rejects with its error or {@link ExportTimeoutError}. */
function attemptOnce(name: string, timeoutMs: number, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new ExportTimeoutError(name, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      fn();
    };
    // An async wrapper turns a synchronous throw of the exporter into a rejection.
    (async () => run(controller.signal))().then(
      () => settle(resolve),
      (err: unknown) => settle(() => reject(toError(err))),
    );
  });
}

/** Backoff before the retry that follows failed attempt `attempt`; undefined = give up (Retry-After past the cap). */
function backoff(options: ExportRetryOptions, attempt: number, error: unknown): number | undefined {
  let delay = Math.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > 0) {
    if (retryAfterMs > options.maxDelayMs) return undefined;
    delay = Math.max(delay, retryAfterMs);
  }
  return Math.round(delay);
}

/**
 * Exports with bounded attempts. `onFailure(attempt, error, final)` is called after every failed attempt (1-based).
 * Resolves true when an attempt succeeded, false when the batch is given up. Never rejects.
 */
export async function exportWithRetry(
  name: string,
  run: (signal: AbortSignal) => Promise<void>,
  options: ExportRetryOptions,
  onFailure: (attempt: number, error: unknown, final: boolean) => void,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await attemptOnce(name, options.timeoutMs, run);
      return true;
    } catch (err) {
      const delay = attempt >= options.maxAttempts ? undefined : backoff(options, attempt, err);
      onFailure(attempt, err, delay === undefined);
      if (delay === undefined) return false;
      if (delay > 0) await new Promise<void>((resolve) => setTimeout(resolve, delay));
    }
  }
}
