/**
 * `timeout(ms)`: the caller gets `TimeoutError` once `ms` elapse, and the guarded function's `ctx.signal` aborts so
 * the work really stops.
 *
 * Why it is nearly free when calls finish in time:
 * - The `AbortController` is created lazily, the first time the function reads `ctx.signal`; a function that never
 *   reads it never pays for one, and a finished call never calls `abort()`.
 * - There is no per-call timer. Every call of one policy has the same duration, so deadlines arrive in start order:
 *   in-flight calls sit in an intrusive doubly linked list (O(1) unlink on completion) and one shared timer is armed
 *   for the head's deadline, ref'd only while calls are in flight (a waiting caller keeps a script alive). When it fires it expires what is due and re-arms for the next live call, or
 *   stays idle when nothing is in flight. No listener is added to anything unless the caller passed a signal.
 */
import { toError } from '../common/errors.js';
import { assertNumber } from '../common/options.js';
import type { AbortListener, GuardedFn, Scope, ScopedPolicy } from './context.js';
import { NEVER, RUN, cancelled, invoke, scopeOf } from './context.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { CancelledError, TimeoutError } from './errors.js';

/** Longest delay `setTimeout` accepts; longer deadlines re-arm in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export interface TimeoutEvent {
  timeoutMs: number;
}

/** A policy that bounds how long a call may take. */
export interface TimeoutPolicy extends ScopedPolicy {
  readonly timeoutMs: number;
  /** Number of calls currently running under this policy. */
  readonly inFlight: number;
  /** Called each time a call times out. Returns a disposer. */
  onTimeout(listener: Listener<TimeoutEvent>): Disposer;
}

/** One call in flight: its scope (lazy signal) and its node in the deadline list. */
class TimeoutCall implements Scope, AbortListener {
  prev: TimeoutCall | undefined = undefined;
  next: TimeoutCall | undefined = undefined;
  aborted = false;
  reason: unknown = undefined;
  settled = false;
  private controller: AbortController | undefined = undefined;
  private children: AbortListener[] | undefined = undefined;
  resolve!: (value: unknown) => void;
  reject!: (error: Error) => void;

  constructor(
    readonly owner: Timeout,
    readonly parent: Scope,
    readonly deadline: number,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  listen(listener: AbortListener): void {
    (this.children ??= []).push(listener);
  }

  unlisten(listener: AbortListener): void {
    const children = this.children;
    if (children === undefined) return;
    const i = children.indexOf(listener);
    if (i >= 0) children.splice(i, 1);
  }

  succeed(value: unknown): void {
    if (this.settled) return;
    this.finish();
    this.resolve(value);
  }

  fail(thrown: unknown): void {
    if (this.settled) return;
    this.finish();
    this.reject(toError(thrown));
  }

  /** The parent scope (caller's signal or an outer policy) aborted. */
  onAbort(reason: unknown): void {
    if (this.settled) return;
    this.finish();
    this.abort(reason, new CancelledError(reason));
  }

  /** Our deadline passed (already unlinked by the owner). */
  expire(error: TimeoutError): void {
    this.settled = true;
    if (this.parent !== NEVER) this.parent.unlisten(this);
    this.abort(error, error);
  }

  private finish(): void {
    this.settled = true;
    this.owner.unlink(this);
    if (this.parent !== NEVER) this.parent.unlisten(this);
  }

  private abort(reason: unknown, rejection: Error): void {
    this.aborted = true;
    this.reason = reason;
    this.reject(rejection);
    this.controller?.abort(reason);
    const children = this.children;
    this.children = undefined;
    if (children) for (const child of children) child.onAbort(reason);
  }
}

class Timeout implements TimeoutPolicy {
  private head: TimeoutCall | undefined = undefined;
  private tail: TimeoutCall | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private count = 0;
  private readonly timeouts = new Emitter<TimeoutEvent>();

  constructor(readonly timeoutMs: number) {}

  get inFlight(): number {
    return this.count;
  }

  onTimeout(listener: Listener<TimeoutEvent>): Disposer {
    return this.timeouts.on(listener);
  }

  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T> {
    return this[RUN](fn, scopeOf(signal));
  }

  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(cancelled(scope));
    if (this.timeoutMs === Infinity) return invoke(fn, scope);
    const call = new TimeoutCall(this, scope, Date.now() + this.timeoutMs);
    const promise = new Promise<T>((resolve, reject) => {
      call.resolve = resolve as (value: unknown) => void;
      call.reject = reject;
    });
    this.append(call);
    if (scope !== NEVER) scope.listen(call);
    let result: PromiseLike<T> | T;
    try {
      result = fn(call);
    } catch (err) {
      call.fail(err);
      return promise;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<T>).then === 'function') {
      (result as PromiseLike<T>).then(
        (value) => call.succeed(value),
        (err: unknown) => call.fail(err),
      );
    } else {
      call.succeed(result);
    }
    return promise;
  }

  private append(call: TimeoutCall): void {
    this.count++;
    if (this.tail === undefined) {
      this.head = this.tail = call;
    } else {
      call.prev = this.tail;
      this.tail.next = call;
      this.tail = call;
    }
    if (this.timer === undefined) this.arm(this.timeoutMs);
    else if (this.count === 1) this.timer.ref();
  }

  /** O(1) removal of a finished call. The timer is left armed: when it fires it simply finds less to do. */
  unlink(call: TimeoutCall): void {
    this.count--;
    const { prev, next } = call;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    call.prev = call.next = undefined;
    // Nobody waits on the armed timer any more: let the process exit; `append` refs it again.
    if (this.count === 0) this.timer?.unref();
  }

  private arm(delayMs: number): void {
    // Ref'd while calls are pending (their callers wait on this deadline); unref'd by `unlink` when none are left.
    this.timer = setTimeout(this.fire, Math.min(Math.max(1, delayMs), MAX_TIMER_MS));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    let call = this.head;
    while (call !== undefined && call.deadline <= now) {
      this.unlink(call);
      call.expire(new TimeoutError(this.timeoutMs));
      if (this.timeouts.active) this.timeouts.emit({ timeoutMs: this.timeoutMs });
      call = this.head;
    }
    if (call !== undefined) this.arm(call.deadline - now);
  };
}

/**
 * Bounds how long a call may take. On expiry the caller's promise rejects with `TimeoutError` at once (even if the
 * function ignores its signal) and `ctx.signal` aborts with that error as reason. A caller's `signal` aborting first
 * rejects with `CancelledError`.
 *
 * @param ms milliseconds, > 0 and ≤ 2^31-1, or `Infinity` for no limit (the policy then only honours the signal).
 * @throws InvalidOptionsError when `ms` is not a positive number.
 * @example
 *   const t = timeout(5_000);
 *   const res = await t.execute(({ signal }) => fetch(url, { signal }));
 */
export function timeout(ms: number): TimeoutPolicy {
  if (ms !== Infinity) assertNumber('timeout', 'ms', ms, { min: Number.MIN_VALUE, max: MAX_TIMER_MS });
  return new Timeout(ms);
}
