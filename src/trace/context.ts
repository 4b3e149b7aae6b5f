/**
 * The async context: AsyncLocalStorage carries the current trace and span. `withSpan` starts a span, makes it current
 * for `fn` (and everything `fn` awaits), and ends it in `finally`, recording a thrown error. The caller's context is
 * restored by AsyncLocalStorage itself when `fn` returns — ending and exporting happen outside it and can never throw
 * into the caller, so a failing exporter cannot leave a stale trace behind.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SpanKind } from './model.js';
import { NOOP_SPAN, RecordingSpan, type Span } from './Span.js';
import { NOOP_TRACE, RecordingTrace, type Trace } from './Trace.js';

type Store = RecordingTrace | RecordingSpan;

const storage = new AsyncLocalStorage<Store>();

/** The trace of the current async context, or the no-op trace outside any. */
export function currentTrace(): Trace {
  const store = storage.getStore();
  return store === undefined ? NOOP_TRACE : store.trace;
}

/** The innermost span of the current async context, or the no-op span outside any. */
export function currentSpan(): Span {
  const store = storage.getStore();
  return store instanceof RecordingSpan ? store : NOOP_SPAN;
}

/**
 * Starts a span under the current span (or at the root of the current trace) without making it current: for hot
 * paths that end it themselves. Returns the no-op span outside a trace.
 */
export function startSpan(kind: SpanKind, name: string): Span {
  const store = storage.getStore();
  if (store === undefined) return NOOP_SPAN;
  return store.trace.startSpan(kind, name, store instanceof RecordingSpan ? store : null);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` inside a new span of `kind` named `name`, current for everything `fn` does; ends it when `fn` returns or
 * its promise settles, recording a thrown error (which is rethrown unchanged). Outside a trace, `fn` gets the no-op
 * span and runs as is. Returns what `fn` returns.
 * @example await withSpan('tool', 'web_search', async (span) => { span.setInput(query); return search(query); })
 */
export function withSpan<T>(kind: SpanKind, name: string, fn: (span: Span) => T): T {
  const span = startSpan(kind, name);
  if (!(span instanceof RecordingSpan)) return fn(span);
  let result: T;
  try {
    result = storage.run(span, fn, span);
  } catch (err) {
    span.recordError(err);
    span.end();
    throw err;
  }
  if (isThenable(result)) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        span.recordError(err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

/**
 * Runs `fn` with `trace` current and ends the trace afterwards (status `success`, or `error`/`timeout` when `fn`
 * throws or rejects; the error is rethrown unchanged). Used by `Tracer.withTrace`.
 */
export function runInTrace<T>(trace: Trace, fn: (trace: Trace) => T): T {
  if (!(trace instanceof RecordingTrace)) return fn(trace);
  let result: T;
  try {
    result = storage.run(trace, fn, trace);
  } catch (err) {
    trace.recordError(err);
    trace.end();
    throw err;
  }
  if (isThenable(result)) {
    return result.then(
      (value) => {
        trace.end();
        return value;
      },
      (err: unknown) => {
        trace.recordError(err);
        trace.end();
        throw err;
      },
    ) as T;
  }
  trace.end();
  return result;
}

/** Runs `fn` with no trace current (e.g. background work that must not join the caller's trace). */
export function runOutsideTrace<T>(fn: () => T): T {
  return storage.exit(fn);
}
