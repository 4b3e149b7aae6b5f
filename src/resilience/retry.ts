/**
 * `retry(...)`: runs the function again after transient failures, with exponential backoff and jitter.
 */
import { toError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertNumber, assertOneOf } from '../common/options.js';
import type { AbortListener, GuardedFn, Scope, ScopedPolicy } from './context.js';
import { NEVER, RUN, cancelled, invoke, scopeOf } from './context.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { CancelledError } from './errors.js';
import { isTransientError } from './transient.js';

export type Jitter = 'full' | 'decorrelated' | 'none';

export interface RetryOptions {
  /** Total attempts, the first one included (1 = no retry). Default 3. */
  maxAttempts?: number;
  /** Delay before the first retry, ms; doubles each attempt. Default 1000. */
  baseDelayMs?: number;
  /** Cap on one delay, ms. A `Retry-After` longer than this is not waited for: the error is rethrown. Default 30 000. */
  maxDelayMs?: number;
  /** `full` (default): uniform in [0, backoff]; `decorrelated`: uniform in [base, 3 × previous]; `none`: the backoff. */
  jitter?: Jitter;
  /** Whether to retry after `err` on attempt `attempt` (1-based). Default {@link isTransientError}. */
  shouldRetry?: (err: Error, attempt: number) => boolean;
}

export interface RetryEvent {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Delay before the next attempt, ms. */
  delayMs: number;
  error: Error;
}

/** A retry policy. */
export interface RetryPolicy extends ScopedPolicy {
  readonly options: Readonly<Required<Omit<RetryOptions, 'shouldRetry'>>>;
  /** Called before each retry's sleep. Returns a disposer. */
  onRetry(listener: Listener<RetryEvent>): Disposer;
}

const KEYS = ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'jitter', 'shouldRetry'] as const;
const MAX_TIMER_MS = 2_147_483_647;

/** One backoff sleep that ends early, with `CancelledError`, when its scope aborts. */
class Sleep implements AbortListener {
  private timer: NodeJS.Timeout | undefined;
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  readonly promise: Promise<void>;

  constructor(
    ms: number,
    private readonly scope: Scope,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (scope !== NEVER) scope.unlisten(this);
      this.resolve();
    }, ms);
    // Ref'd on purpose: the caller's promise waits on this sleep, so it must keep a plain script alive (#16.5).
    if (scope !== NEVER) scope.listen(this);
  }

  onAbort(reason: unknown): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.reject(new CancelledError(reason));
  }
}

class Retry implements RetryPolicy {
  private readonly retries = new Emitter<RetryEvent>();

  constructor(
    readonly options: Readonly<Required<Omit<RetryOptions, 'shouldRetry'>>>,
    private readonly shouldRetry: (err: Error, attempt: number) => boolean,
  ) {}

  onRetry(listener: Listener<RetryEvent>): Disposer {
    return this.retries.on(listener);
  }

  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T> {
    return this[RUN](fn, scopeOf(signal));
  }

  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(cancelled(scope));
    // The success path is one extra `then`; the loop only starts after a failure.
    return invoke(fn, scope).catch((err: unknown) => this.again(fn, scope, toError(err)));
  }

  private async again<T>(fn: GuardedFn<T>, scope: Scope, first: Error): Promise<T> {
    let error = first;
    let previousDelay = this.options.baseDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (attempt >= this.options.maxAttempts || scope.aborted || !this.wants(error, attempt)) throw error;
      const delayMs = this.delay(attempt, previousDelay, error);
      if (delayMs === undefined) throw error;
      previousDelay = delayMs;
      if (this.retries.active) this.retries.emit({ attempt, delayMs, error });
      if (delayMs > 0) await new Sleep(delayMs, scope).promise;
      else if (scope.aborted) throw cancelled(scope);
      try {
        return await invoke(fn, scope);
      } catch (err) {
        error = toError(err);
      }
    }
  }

  private wants(error: Error, attempt: number): boolean {
    try {
      return this.shouldRetry(error, attempt) === true;
    } catch {
      return false;
    }
  }

  /** Backoff for the retry after `attempt`, stretched to a server's Retry-After; undefined = do not retry. */
  private delay(attempt: number, previous: number, error: Error): number | undefined {
    const { baseDelayMs, maxDelayMs, jitter } = this.options;
    const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    let delay: number;
    if (jitter === 'none') delay = backoff;
    else if (jitter === 'full') delay = Math.random() * backoff;
    else delay = Math.min(maxDelayMs, baseDelayMs + Math.random() * (previous * 3 - baseDelayMs));
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > 0) {
      if (retryAfterMs > maxDelayMs) return undefined;
      delay = Math.max(delay, retryAfterMs);
    }
    return Math.round(delay);
  }
}

/**
 * Retries failed calls with exponential backoff: the delay before retry `n` is `baseDelayMs × 2^(n-1)`, capped at
 * `maxDelayMs`, then jittered. Only transient errors are retried by default ({@link isTransientError}: network
 * errors, `TimeoutError`, HTTP 408/429/5xx; never TypeError, validation errors or `CircuitOpenError`). An error
 * carrying `retryAfterMs` (an `HttpStatusError` from a `Retry-After` header) makes the delay at least that long, or
 * ends the retries when it exceeds `maxDelayMs`. The sleep ends with `CancelledError` when the caller's signal aborts.
 * The last error is rethrown as is.
 *
 * Defaults: `maxAttempts` 3, `baseDelayMs` 1000, `maxDelayMs` 30 000, `jitter` 'full', `shouldRetry` isTransientError.
 * @throws InvalidOptionsError for unknown keys or out-of-range values.
 * @example
 *   const r = retry({ maxAttempts: 4, baseDelayMs: 200 });
 *   r.onRetry(({ attempt, delayMs, error }) => log.warn({ attempt, delayMs, err: error.message }));
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  assertKnownKeys('retry', options, KEYS);
  const o = options ?? {};
  const maxAttempts = o.maxAttempts === undefined ? 3 : assertNumber('retry', 'maxAttempts', o.maxAttempts, { integer: true, min: 1, max: 100 });
  const baseDelayMs = o.baseDelayMs === undefined ? 1000 : assertNumber('retry', 'baseDelayMs', o.baseDelayMs, { min: 0, max: MAX_TIMER_MS });
  const maxDelayMs = o.maxDelayMs === undefined ? Math.max(30_000, baseDelayMs) : assertNumber('retry', 'maxDelayMs', o.maxDelayMs, { min: 0, max: MAX_TIMER_MS });
  if (maxDelayMs < baseDelayMs) {
    assertNumber('retry', 'maxDelayMs', maxDelayMs, { min: baseDelayMs });
  }
  const jitter = o.jitter === undefined ? 'full' : assertOneOf('retry', 'jitter', o.jitter, ['full', 'decorrelated', 'none']);
  if (o.shouldRetry !== undefined) assertFunction('retry', 'shouldRetry', o.shouldRetry);
  const shouldRetry = o.shouldRetry ?? ((err: Error) => isTransientError(err));
  return new Retry(Object.freeze({ maxAttempts, baseDelayMs, maxDelayMs, jitter }), shouldRetry);
}
