/**
 * `bulkhead(...)`: at most `maxConcurrent` calls run at once; up to `maxQueue` more wait in line; the rest are
 * rejected at once with `BulkheadRejectedError`.
 */
import { assertKnownKeys, assertNumber } from '../common/options.js';
import type { AbortListener, GuardedFn, Scope, ScopedPolicy } from './context.js';
import { NEVER, RUN, cancelled, invoke, scopeOf } from './context.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { BulkheadRejectedError, CancelledError } from './errors.js';

export interface BulkheadOptions {
  /** Calls allowed to run at once. Required, ≥ 1. */
  maxConcurrent: number;
  /** Calls allowed to wait for a slot (the queue's bound). Default 0: no waiting. */
  maxQueue?: number;
}

export interface BulkheadStats {
  running: number;
  queued: number;
  /** Calls rejected because slots and queue were full, since creation. */
  rejected: number;
  maxConcurrent: number;
  maxQueue: number;
}

export interface BulkheadRejectedEvent {
  running: number;
  queued: number;
}

export interface BulkheadPolicy extends ScopedPolicy {
  stats(): BulkheadStats;
  /** Called for every call rejected by a full bulkhead. Returns a disposer. */
  onRejected(listener: Listener<BulkheadRejectedEvent>): Disposer;
}

/** A queued call; a node of the wait list so an abort can remove it in O(1). */
class Waiter implements AbortListener {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  constructor(
    readonly owner: Bulkhead,
    readonly scope: Scope,
    readonly grant: () => void,
    readonly fail: (err: Error) => void,
  ) {}

  onAbort(reason: unknown): void {
    this.owner.dequeue(this);
    this.fail(new CancelledError(reason));
  }
}

class Bulkhead implements BulkheadPolicy {
  private running = 0;
  private queued = 0;
  private rejected = 0;
  private head: Waiter | undefined = undefined;
  private tail: Waiter | undefined = undefined;
  private readonly rejections = new Emitter<BulkheadRejectedEvent>();
  private readonly release = (): void => {
    const next = this.head;
    if (next === undefined) {
      this.running--;
      return;
    }
    // Hand the slot straight to the next waiter: `running` stays the same.
    this.dequeue(next);
    if (next.scope !== NEVER) next.scope.unlisten(next);
    next.grant();
  };

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T> {
    return this[RUN](fn, scopeOf(signal));
  }

  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(cancelled(scope));
    if (this.running < this.maxConcurrent) {
      this.running++;
      const run = invoke(fn, scope);
      run.then(this.release, this.release);
      return run;
    }
    if (this.queued >= this.maxQueue) {
      this.rejected++;
      if (this.rejections.active) this.rejections.emit({ running: this.running, queued: this.queued });
      return Promise.reject(new BulkheadRejectedError(this.maxConcurrent, this.maxQueue));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter = new Waiter(
        this,
        scope,
        () => {
          const run = invoke(fn, scope);
          run.then(this.release, this.release);
          resolve(run);
        },
        reject,
      );
      this.enqueue(waiter);
      if (scope !== NEVER) scope.listen(waiter);
    });
  }

  private enqueue(waiter: Waiter): void {
    this.queued++;
    if (this.tail === undefined) this.head = this.tail = waiter;
    else {
      waiter.prev = this.tail;
      this.tail.next = waiter;
      this.tail = waiter;
    }
  }

  dequeue(waiter: Waiter): void {
    this.queued--;
    const { prev, next } = waiter;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    waiter.prev = waiter.next = undefined;
  }

  stats(): BulkheadStats {
    return { running: this.running, queued: this.queued, rejected: this.rejected, maxConcurrent: this.maxConcurrent, maxQueue: this.maxQueue };
  }

  onRejected(listener: Listener<BulkheadRejectedEvent>): Disposer {
    return this.rejections.on(listener);
  }
}

/**
 * Bounded concurrency with a bounded wait queue (first in, first out). A queued call whose signal aborts leaves the
 * queue with `CancelledError`; a call arriving when all slots and the queue are taken is rejected at once with
 * `BulkheadRejectedError` (never left waiting). Defaults: `maxQueue` 0.
 * @throws InvalidOptionsError when `maxConcurrent` is missing or not an integer ≥ 1, `maxQueue` not an integer ≥ 0,
 *   or an unknown key is given.
 * @example
 *   const search = bulkhead({ maxConcurrent: 4, maxQueue: 16 });
 *   await search.execute(({ signal }) => fetch(url, { signal }), req.signal);
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  assertKnownKeys('bulkhead', options, ['maxConcurrent', 'maxQueue']);
  const o = options ?? ({} as BulkheadOptions);
  const maxConcurrent = assertNumber('bulkhead', 'maxConcurrent', o.maxConcurrent, { integer: true, min: 1 });
  const maxQueue = o.maxQueue === undefined ? 0 : assertNumber('bulkhead', 'maxQueue', o.maxQueue, { integer: true, min: 0 });
  return new Bulkhead(maxConcurrent, maxQueue);
}
