/**
 * The execution context every policy hands to the guarded function, and the internal cancellation scopes behind it.
 *
 * A scope is a lazy AbortSignal: policies pass scopes to each other and listen to them through plain method calls;
 * an `AbortController` is only created when the guarded function actually reads `ctx.signal`. That keeps the
 * success path of `pipeline(retry, breaker, timeout)` free of controllers, listeners and per-call timers.
 */
import { toError } from '../common/errors.js';
import { CancelledError } from './errors.js';

/** What a guarded function receives. Pass `signal` to `fetch` (or anything abortable) so timeouts really stop work. */
export interface ExecuteContext {
  readonly signal: AbortSignal;
}

/** A guarded function: may return a value or a promise, may read `ctx.signal`. */
export type GuardedFn<T> = (ctx: ExecuteContext) => PromiseLike<T> | T;

/** Anything that can run a guarded function: every policy in this module, and any user-written wrapper. */
export interface Policy {
  /**
   * Runs `fn` under the policy. `signal` is the caller's own cancellation: when it aborts, the call rejects with
   * `CancelledError` and `fn`'s `ctx.signal` aborts too.
   */
  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T>;
}

/** Notified once when a scope aborts. An object, not a closure, so scopes can register without allocating. */
export interface AbortListener {
  onAbort(reason: unknown): void;
}

/** Internal: a cancellation scope. Implements `ExecuteContext` so it can be handed to `fn` as is. */
export interface Scope extends ExecuteContext {
  readonly aborted: boolean;
  readonly reason: unknown;
  listen(listener: AbortListener): void;
  unlisten(listener: AbortListener): void;
}

/** Internal hook: policies of this module compose through `[RUN]` and pass scopes instead of signals. */
export const RUN: unique symbol = Symbol('agentex.resilience.run');

export interface ScopedPolicy extends Policy {
  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T>;
}

export function isScopedPolicy(policy: unknown): policy is ScopedPolicy {
  return typeof policy === 'object' && policy !== null && typeof (policy as Partial<ScopedPolicy>)[RUN] === 'function';
}

let neverSignal: AbortSignal | undefined;

/** The scope of a call without a caller signal: never aborts, shares one never-aborted signal. */
export const NEVER: Scope = {
  aborted: false,
  reason: undefined,
  get signal(): AbortSignal {
    return (neverSignal ??= new AbortController().signal);
  },
  listen(): void {},
  unlisten(): void {},
};

/** Wraps a caller's AbortSignal. Adds one DOM listener on first `listen`, removes it when the last one leaves. */
export class SignalScope implements Scope {
  private listeners: AbortListener[] = [];
  private attached = false;

  constructor(readonly signal: AbortSignal) {}

  get aborted(): boolean {
    return this.signal.aborted;
  }

  get reason(): unknown {
    return this.signal.reason as unknown;
  }

  listen(listener: AbortListener): void {
    this.listeners.push(listener);
    if (!this.attached) {
      this.attached = true;
      this.signal.addEventListener('abort', this.handle);
    }
  }

  unlisten(listener: AbortListener): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
    if (this.listeners.length === 0 && this.attached) {
      this.attached = false;
      this.signal.removeEventListener('abort', this.handle);
    }
  }

  private readonly handle = (): void => {
    const listeners = this.listeners;
    this.listeners = [];
    this.attached = false;
    this.signal.removeEventListener('abort', this.handle);
    for (const l of listeners) l.onAbort(this.signal.reason);
  };
}

/** The scope for a public `execute(fn, signal)` call. */
export function scopeOf(signal: AbortSignal | undefined): Scope {
  if (signal === undefined) return NEVER;
  if (!(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return new SignalScope(signal);
}

/** Runs `fn` with `scope` as its context; a synchronous throw becomes a rejection. */
export function invoke<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
  try {
    const result: PromiseLike<T> | T = fn(scope);
    return Promise.resolve(result);
  } catch (err) {
    return Promise.reject(toError(err));
  }
}

/** The rejection for a call whose scope was already aborted when it started. */
export function cancelled(scope: Scope): CancelledError {
  return new CancelledError(scope.reason);
}

/** Runs `policy` with a scope, using the internal hook when the policy is one of ours. */
export function runIn<T>(policy: Policy, fn: GuardedFn<T>, scope: Scope): Promise<T> {
  return isScopedPolicy(policy) ? policy[RUN](fn, scope) : policy.execute(fn, scope === NEVER ? undefined : scope.signal);
}

