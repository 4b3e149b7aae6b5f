/**
 * The circuit breaker: stops calling a dependency that keeps failing, lets a few probes through after a cooldown,
 * and closes again when they succeed.
 *
 * State machine (see docs/resilience.md):
 *   closed ──(policy trips)──► open ──(cooldown elapsed, on next read or call)──► half_open
 *   half_open ──(successThreshold probe successes)──► closed;  half_open ──(any probe failure)──► open
 *   any ──reset()──► closed
 *
 * Every transition bumps `generation`. A call remembers the generation it started in; when it settles in a later
 * generation (the circuit opened, closed or was reset meanwhile), its outcome is counted in the totals but never
 * moves the state machine. That is what keeps late results of old calls from corrupting the new state.
 */
import { InvalidOptionsError, toError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertNumber, assertOneOf, assertString } from '../common/options.js';
import type { GuardedFn, Policy, Scope, ScopedPolicy } from './context.js';
import { RUN, cancelled, invoke, scopeOf } from './context.js';
import { coarseNow } from './clock.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { CircuitOpenError, TimeoutError } from './errors.js';
import type { CircuitStateStore, SharedCircuitRecord } from './CircuitStateStore.js';
import { SharedCircuitLink, type ProbeLease } from './SharedCircuitLink.js';
import { timeout, type TimeoutPolicy } from './timeout.js';
import { isCallerError } from './transient.js';
import type { Breaker } from './breakers/Breaker.js';
import { ConsecutiveBreaker } from './breakers/ConsecutiveBreaker.js';
import { CountBreaker } from './breakers/CountBreaker.js';
import { SlowCallBreaker } from './breakers/SlowCallBreaker.js';
import { TimeBreaker } from './breakers/TimeBreaker.js';
import type { WindowTotals } from './windows.js';
import { OUTCOME_FAILURE, OUTCOME_SLOW } from './windows.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** How the closed circuit decides to open. */
export type CircuitPolicy = 'consecutive' | 'countWindow' | 'timeWindow';

export type StateChangeReason =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'slow_call_rate'
  | 'cooldown_elapsed'
  | 'probe_failed'
  | 'probes_succeeded'
  | 'reset';

export interface CircuitBreakerOptions {
  /** Name shown in errors, stats and events (1–200 characters). Required. */
  name: string;
  /** `consecutive` policy: consecutive failures that open the circuit. Default 3. */
  threshold?: number;
  /** How long the circuit stays open before letting probes through, ms. Default 30 000. */
  cooldownMs?: number;
  /** Calls allowed to run at once as probes in half-open; the rest are rejected at once. Default 1. */
  halfOpenMaxProbes?: number;
  /** Consecutive probe successes that close the circuit. Default 1. */
  successThreshold?: number;
  /**
   * Per-call time limit, ms: a call still running after it rejects with `TimeoutError` and counts as a failure.
   * Default: none for ordinary calls; half-open probes always have a limit (`timeoutMs`, else `cooldownMs`) so a
   * hung probe cannot wedge the circuit in half-open.
   */
  timeoutMs?: number;
  /**
   * What opens a closed circuit. Default `consecutive` (`threshold` failures in a row). `countWindow`: failure rate
   * over the last `windowSize` calls; `timeWindow`: failure rate over the last `windowMs`; both wait for
   * `minimumCalls` calls in the window.
   */
  policy?: CircuitPolicy;
  /** `countWindow` (and slow-call tracking under `consecutive`): calls in the window. Default 100, max 100 000. */
  windowSize?: number;
  /** `timeWindow`: window length, ms (slides in tenths). Default 60 000. */
  windowMs?: number;
  /** Calls the window must hold before rates are judged. Default 10. */
  minimumCalls?: number;
  /** Failure share in (0, 1] at or above which the circuit opens (window policies). Default 0.5. */
  failureRateThreshold?: number;
  /** A call taking at least this long (ms) counts as slow. Default: slow-call tracking off. */
  slowCallMs?: number;
  /** Slow share in (0, 1] at or above which the circuit opens (needs `slowCallMs`). Default 0.5. */
  slowCallRateThreshold?: number;
  /**
   * Which errors count as failures. Default: everything except the caller's own mistakes ({@link isCallerError}:
   * TypeError, validation errors, cancellations, HTTP 4xx other than 408/429). Errors it rejects are passed through
   * and counted as `ignored`. If it throws, the error counts as a failure.
   */
  isFailure?: (err: Error) => boolean;
  /**
   * Shares this circuit's state with every breaker of the same name on the store (other processes included): an open
   * anywhere opens everywhere, half-open admits `halfOpenMaxProbes` probes in all, a reset anywhere resets all. The
   * closed path never waits on the store. While it is unreachable the breaker runs on its own state and rejoins when
   * it returns. Default: none. See `agentex/state` for Redis and Postgres stores.
   */
  stateStore?: CircuitStateStore;
}

export interface CircuitCounts {
  /** Calls that reached the guarded function. */
  calls: number;
  successes: number;
  /** Errors counted as failures (timeouts included). */
  failures: number;
  /** Calls that failed with `TimeoutError`. */
  timeouts: number;
  /** Calls rejected without running (open, or half-open with all probe slots busy). */
  rejections: number;
  /** Errors not counted as failures (the caller's own mistakes, by default). */
  ignored: number;
  /** Calls that took at least `slowCallMs` (0 when slow-call tracking is off). */
  slowCalls: number;
}

/** A snapshot of one circuit: the shape the registry, HTTP API and CLI share. */
export interface CircuitStats {
  name: string;
  state: CircuitState;
  policy: CircuitPolicy;
  counts: CircuitCounts;
  consecutiveFailures: number;
  /** Totals of the sliding window (null under `consecutive` without slow-call tracking). */
  window: WindowTotals | null;
  /** Milliseconds until an open circuit lets probes through; 0 otherwise. */
  cooldownRemainingMs: number;
  /** Epoch ms of the last counted failure / success, null if none since the last reset (~1 ms precision). */
  lastFailureAt: number | null;
  lastSuccessAt: number | null;
  /** Message of the last counted failure, truncated to {@link MAX_ERROR_MESSAGE_LENGTH} characters. */
  lastError: string | null;
  /** Probes running now (half-open only). */
  probesInFlight: number;
  /** Bumped on every transition and reset. */
  generation: number;
}

export interface StateChangeEvent {
  name: string;
  from: CircuitState;
  to: CircuitState;
  reason: StateChangeReason;
}
export interface SuccessEvent {
  name: string;
  durationMs: number;
}
export interface FailureEvent {
  name: string;
  error: Error;
  durationMs: number;
  /** False when `isFailure` said the error does not count. */
  counted: boolean;
}
export interface RejectedEvent {
  name: string;
  state: CircuitState;
  retryAfterMs: number;
}
export interface CircuitTimeoutEvent {
  name: string;
  timeoutMs: number;
}

/** `lastError` is cut to this many characters. */
export const MAX_ERROR_MESSAGE_LENGTH = 200;
/** Largest `windowSize` (the ring is allocated up front). */
export const MAX_WINDOW_SIZE = 100_000;
const MAX_TIMER_MS = 2_147_483_647;

const OPTION_KEYS = [
  'name',
  'threshold',
  'cooldownMs',
  'halfOpenMaxProbes',
  'successThreshold',
  'timeoutMs',
  'policy',
  'windowSize',
  'windowMs',
  'minimumCalls',
  'failureRateThreshold',
  'slowCallMs',
  'slowCallRateThreshold',
  'isFailure',
  'stateStore',
] as const;

interface Resolved {
  name: string;
  threshold: number;
  cooldownMs: number;
  halfOpenMaxProbes: number;
  successThreshold: number;
  timeoutMs: number | undefined;
  policy: CircuitPolicy;
  windowSize: number;
  windowMs: number;
  minimumCalls: number;
  failureRateThreshold: number;
  slowCallMs: number | undefined;
  slowCallRateThreshold: number;
  isFailure: (err: Error) => boolean;
  stateStore: CircuitStateStore | undefined;
}

const defaultIsFailure = (err: Error): boolean => !isCallerError(err);

/** Validates options and fills in defaults: the one place where defaults live. */
function resolveOptions(options: CircuitBreakerOptions): Resolved {
  const where = 'circuitBreaker';
  if (options === undefined || options === null) {
    throw new InvalidOptionsError(where, 'circuitBreaker needs an options object with at least `name`');
  }
  assertKnownKeys(where, options, OPTION_KEYS);
  const o = options;
  const num = (key: keyof CircuitBreakerOptions, fallback: number, rule: Parameters<typeof assertNumber>[3]): number =>
    o[key] === undefined ? fallback : assertNumber(where, key, o[key], rule);
  const policy = o.policy === undefined ? 'consecutive' : assertOneOf(where, 'policy', o.policy, ['consecutive', 'countWindow', 'timeWindow']);
  const slowCallMs = o.slowCallMs === undefined ? undefined : assertNumber(where, 'slowCallMs', o.slowCallMs, { min: Number.MIN_VALUE });
  const onlyFor = (key: keyof CircuitBreakerOptions, ok: boolean, hint: string): void => {
    if (o[key] !== undefined && !ok) {
      throw new InvalidOptionsError(`${where}.${key}`, `Option \`${key}\` does not apply to policy "${policy}" (${hint})`);
    }
  };
  onlyFor('threshold', policy === 'consecutive', 'use failureRateThreshold with window policies');
  onlyFor('windowSize', policy === 'countWindow' || (policy === 'consecutive' && slowCallMs !== undefined), 'needs policy countWindow, or slowCallMs');
  onlyFor('windowMs', policy === 'timeWindow', 'needs policy timeWindow');
  onlyFor('failureRateThreshold', policy !== 'consecutive', 'needs policy countWindow or timeWindow');
  onlyFor('minimumCalls', policy !== 'consecutive' || slowCallMs !== undefined, 'needs a window policy or slowCallMs');
  if (o.slowCallRateThreshold !== undefined && slowCallMs === undefined) {
    throw new InvalidOptionsError(`${where}.slowCallRateThreshold`, 'Option `slowCallRateThreshold` needs `slowCallMs`');
  }
  if (o.isFailure !== undefined) assertFunction(where, 'isFailure', o.isFailure);
  if (o.stateStore !== undefined && (o.stateStore === null || typeof o.stateStore !== 'object' || typeof o.stateStore.apply !== 'function')) {
    throw new InvalidOptionsError(`${where}.stateStore`, 'Expected `stateStore` to be a CircuitStateStore (memoryCircuitStateStore(), or a Redis/Postgres store)');
  }
  return {
    name: assertString(where, 'name', o.name),
    threshold: num('threshold', 3, { integer: true, min: 1 }),
    cooldownMs: num('cooldownMs', 30_000, { min: 0, max: MAX_TIMER_MS }),
    halfOpenMaxProbes: num('halfOpenMaxProbes', 1, { integer: true, min: 1, max: 1_000_000 }),
    successThreshold: num('successThreshold', 1, { integer: true, min: 1, max: 1_000_000 }),
    timeoutMs: o.timeoutMs === undefined ? undefined : assertNumber(where, 'timeoutMs', o.timeoutMs, { min: Number.MIN_VALUE, max: MAX_TIMER_MS }),
    policy,
    windowSize: num('windowSize', 100, { integer: true, min: 1, max: MAX_WINDOW_SIZE }),
    windowMs: num('windowMs', 60_000, { min: 10, max: MAX_TIMER_MS }),
    minimumCalls: num('minimumCalls', 10, { integer: true, min: 1 }),
    failureRateThreshold: num('failureRateThreshold', 0.5, { min: Number.MIN_VALUE, max: 1 }),
    slowCallMs,
    slowCallRateThreshold: num('slowCallRateThreshold', 0.5, { min: Number.MIN_VALUE, max: 1 }),
    isFailure: o.isFailure ?? defaultIsFailure,
    stateStore: o.stateStore,
  };
}

/**
 * A real `CircuitOpenError` whose stack is its first line only: the frames would point into the breaker, and
 * capturing them made a rejection cost more than cockatiel's (see docs/benchmarks.md, "rejection while open").
 */
function openError(circuit: string, retryAfterMs: number): CircuitOpenError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new CircuitOpenError(circuit, retryAfterMs);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The opening rule for the resolved options: one of the three policies, wrapped by slow-call tracking when on. */
function openingRule(cfg: Resolved): Breaker {
  const rate = { minimumCalls: cfg.minimumCalls, failureRateThreshold: cfg.failureRateThreshold };
  const rule =
    cfg.policy === 'countWindow'
      ? new CountBreaker(cfg.windowSize, rate)
      : cfg.policy === 'timeWindow'
        ? new TimeBreaker(cfg.windowMs, rate)
        : new ConsecutiveBreaker(cfg.threshold);
  if (cfg.slowCallMs === undefined) return rule;
  return new SlowCallBreaker(rule, { minimumCalls: cfg.minimumCalls, slowCallRateThreshold: cfg.slowCallRateThreshold, windowSize: cfg.windowSize });
}

/** A circuit breaker policy. Create it with {@link circuitBreaker}. */
export class CircuitBreaker implements ScopedPolicy {
  readonly name: string;
  readonly options: Readonly<Omit<Resolved, 'isFailure' | 'stateStore'>>;
  private readonly cfg: Resolved;

  private current: CircuitState = 'closed';
  private gen = 0;
  /** Calls started before this generation belong to a previous reset and do not touch the counters. */
  private resetGen = 0;
  private openedAt = 0;
  private consecutiveFailures = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  /** The opening rule: sees closed-state outcomes, says when to open (`breakers/`). */
  private readonly breaker: Breaker;
  private readonly callTimeout: TimeoutPolicy | undefined;
  private readonly probeTimeout: TimeoutPolicy;
  private readonly slowCallMs: number;

  private calls = 0;
  private successes = 0;
  private failures = 0;
  private timeouts = 0;
  private rejections = 0;
  private ignored = 0;
  private slowCalls = 0;
  private lastFailureAt: number | null = null;
  private lastSuccessAt: number | null = null;
  private lastError: Error | null = null;
  private lastReason: StateChangeReason = 'reset';
  /** Set when the state is shared through a store. */
  private readonly link: SharedCircuitLink | undefined;
  /** Probe admissions this breaker is waiting for from the store. */
  private acquiring = 0;

  private readonly stateChanges = new Emitter<StateChangeEvent>();
  private readonly successEvents = new Emitter<SuccessEvent>();
  private readonly failureEvents = new Emitter<FailureEvent>();
  private readonly rejectedEvents = new Emitter<RejectedEvent>();
  private readonly timeoutEvents = new Emitter<CircuitTimeoutEvent>();

  constructor(options: CircuitBreakerOptions) {
    const cfg = resolveOptions(options);
    this.cfg = cfg;
    this.name = cfg.name;
    const { isFailure: _ignored, stateStore, ...shown } = cfg;
    this.options = Object.freeze(shown);
    this.slowCallMs = cfg.slowCallMs ?? Infinity;
    this.breaker = openingRule(cfg);
    this.callTimeout = cfg.timeoutMs === undefined ? undefined : timeout(cfg.timeoutMs);
    this.probeTimeout = this.callTimeout ?? timeout(Math.max(1, cfg.cooldownMs));
    if (stateStore !== undefined) {
      this.link = new SharedCircuitLink(
        stateStore,
        {
          name: cfg.name,
          adopt: (record, fresh) => this.adopt(record, fresh),
          localView: () => ({ state: this.current, openUntil: this.openedAt + cfg.cooldownMs, reason: this.lastReason }),
        },
        {
          halfOpenMaxProbes: cfg.halfOpenMaxProbes,
          successThreshold: cfg.successThreshold,
          // A probe's slot outlives its time limit a little, so a crashed holder frees it without racing a live one.
          leaseMs: Math.min(MAX_TIMER_MS, (cfg.timeoutMs ?? Math.max(1, cfg.cooldownMs)) + 1000),
        },
      );
    }
  }

  /** Current state. Reading it performs the due open → half_open transition and nothing else. */
  get state(): CircuitState {
    if (this.current === 'open' && Date.now() >= this.openedAt + this.cfg.cooldownMs) {
      this.transition('half_open', 'cooldown_elapsed');
    }
    return this.current;
  }

  /** Bumped on every transition and reset. */
  get generation(): number {
    return this.gen;
  }

  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T> {
    return this[RUN](fn, scopeOf(signal));
  }

  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (this.current !== 'closed' || scope.aborted) return this.runNotClosed(fn, scope);
    const gen = this.gen;
    const start = this.slowCallMs !== Infinity || this.successEvents.active || this.failureEvents.active ? performance.now() : -1;
    this.calls++;
    return this.track(this.callTimeout === undefined ? invoke(fn, scope) : this.callTimeout[RUN](fn, scope), gen, start);
  }

  /**
   * Settles the caller's promise after bookkeeping. `reject()` rather than a `throw` in a `then` callback: the throw
   * made V8 look up the message location and tripled the breaker's failing-call overhead (docs/benchmarks.md).
   */
  private track<T>(run: Promise<T>, gen: number, start: number, lease?: ProbeLease): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      run.then(
        (value) => {
          this.settleSuccess(gen, start, lease);
          resolve(value);
        },
        (err: unknown) => reject(this.settleFailure(gen, start, err, lease)),
      );
    });
  }

  private runNotClosed<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(cancelled(scope));
    if (this.current === 'closed') return this[RUN](fn, scope);
    if (this.link?.active) return this.runShared(fn, scope);
    return this.runLocalProbe(fn, scope);
  }

  /** Open or half-open with a reachable store: the store admits probes cluster-wide. */
  private runShared<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (this.current === 'open') {
      const remaining = this.openedAt + this.cfg.cooldownMs - Date.now();
      if (remaining > 0) return this.reject(remaining);
    }
    // At most halfOpenMaxProbes asks or probes from here at once: a burst in half-open costs no burst of round trips.
    if (this.probesInFlight + this.acquiring >= this.cfg.halfOpenMaxProbes) return this.reject(0);
    this.acquiring++;
    return this.link!.acquire(Date.now()).then((lease) => {
      this.acquiring--;
      if (lease === undefined) return this.runNotClosed(fn, scope); // the store failed: decide locally
      if (lease === null) {
        if (this.current === 'closed') return this[RUN](fn, scope);
        return this.reject(this.current === 'open' ? Math.max(0, this.openedAt + this.cfg.cooldownMs - Date.now()) : 0);
      }
      if (this.current !== 'half_open') this.transition('half_open', 'cooldown_elapsed', true);
      if (scope.aborted) {
        void this.link!.probeDone(lease, undefined, 0);
        return Promise.reject(cancelled(scope));
      }
      this.probesInFlight++;
      const gen = this.gen;
      const start = this.slowCallMs !== Infinity || this.successEvents.active || this.failureEvents.active ? performance.now() : -1;
      this.calls++;
      return this.track(this.probeTimeout[RUN](fn, scope), gen, start, lease);
    });
  }

  private runLocalProbe<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    if (this.current === 'open') {
      const remaining = this.openedAt + this.cfg.cooldownMs - Date.now();
      if (remaining > 0) return this.reject(remaining);
      this.transition('half_open', 'cooldown_elapsed');
    }
    if (this.probesInFlight >= this.cfg.halfOpenMaxProbes) return this.reject(0);
    this.probesInFlight++;
    const gen = this.gen;
    const start = this.slowCallMs !== Infinity || this.successEvents.active || this.failureEvents.active ? performance.now() : -1;
    this.calls++;
    return this.track(this.probeTimeout[RUN](fn, scope), gen, start);
  }

  private reject(retryAfterMs: number): Promise<never> {
    this.rejections++;
    if (this.rejectedEvents.active) this.rejectedEvents.emit({ name: this.name, state: this.current, retryAfterMs });
    const error = openError(this.name, retryAfterMs);
    // Rejected one microtask later, once the caller's `await` has attached its handler: this spares Node's
    // unhandled-rejection bookkeeping, which with the stack made a rejection cost about a third of cockatiel's.
    return new Promise<never>((_resolve, reject) => queueMicrotask(() => reject(error)));
  }

  private settleSuccess(gen: number, start: number, lease?: ProbeLease): void {
    if (lease !== undefined) this.reportProbe(lease, true, gen);
    if (gen < this.resetGen) return;
    this.successes++;
    const now = coarseNow();
    this.lastSuccessAt = now;
    let slow = false;
    if (start >= 0) {
      const durationMs = performance.now() - start;
      slow = durationMs >= this.slowCallMs;
      if (slow) this.slowCalls++;
      if (this.successEvents.active) this.successEvents.emit({ name: this.name, durationMs });
    }
    if (gen !== this.gen) return;
    if (this.current === 'closed') {
      this.consecutiveFailures = 0;
      const reason = this.breaker.record(slow ? OUTCOME_SLOW : 0, now);
      if (reason !== undefined) this.transition('open', reason);
    } else if (this.current === 'half_open') {
      this.probesInFlight--;
      // A shared probe: the store counts successes cluster-wide and closes (reportProbe adopts its answer).
      if (lease === undefined && ++this.probeSuccesses >= this.cfg.successThreshold) this.transition('closed', 'probes_succeeded');
    }
  }

  /**
   * Hands a shared probe's outcome to the store (`undefined`: the error did not count) and adopts its decision. If the
   * store cannot be reached, the probe decides locally, as without a store.
   */
  private reportProbe(lease: ProbeLease, ok: boolean | undefined, gen: number): void {
    const openUntil = Date.now() + this.cfg.cooldownMs;
    void this.link!.probeDone(lease, ok, openUntil).then((taken) => {
      if (taken || ok !== true || gen !== this.gen || this.current !== 'half_open') return;
      if (++this.probeSuccesses >= this.cfg.successThreshold) this.transition('closed', 'probes_succeeded');
    });
  }

  private settleFailure(gen: number, start: number, thrown: unknown, lease?: ProbeLease): Error {
    const error = toError(thrown);
    if (gen < this.resetGen) {
      if (lease !== undefined) this.reportProbe(lease, undefined, gen);
      return error;
    }
    let counted: boolean;
    try {
      counted = this.cfg.isFailure(error) !== false;
    } catch {
      counted = true;
    }
    let slow = false;
    let durationMs = 0;
    if (start >= 0) {
      durationMs = performance.now() - start;
      slow = durationMs >= this.slowCallMs;
    }
    if (counted) {
      this.failures++;
      if (slow) this.slowCalls++;
      this.lastFailureAt = coarseNow();
      this.lastError = error;
      if (error instanceof TimeoutError) {
        this.timeouts++;
        if (this.timeoutEvents.active) this.timeoutEvents.emit({ name: this.name, timeoutMs: error.timeoutMs });
      }
    } else {
      this.ignored++;
    }
    if (this.failureEvents.active) this.failureEvents.emit({ name: this.name, error, durationMs, counted });
    if (lease !== undefined) this.reportProbe(lease, counted ? false : undefined, gen);
    if (gen !== this.gen) return error;
    if (this.current === 'half_open') {
      // A shared probe's failure opens here at once; the store, told by reportProbe, opens everywhere.
      if (counted) this.transition('open', 'probe_failed', lease !== undefined);
      else this.probesInFlight--;
    } else if (this.current === 'closed' && counted) {
      this.consecutiveFailures++;
      const reason = this.breaker.record(OUTCOME_FAILURE | (slow ? OUTCOME_SLOW : 0), coarseNow());
      if (reason !== undefined) this.transition('open', reason);
    }
    return error;
  }

  /** `shared`: the transition came from the store (or is already on its way there), so it is not published again. */
  private transition(to: CircuitState, reason: StateChangeReason, shared = false): void {
    const from = this.current;
    this.current = to;
    this.gen++;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.lastReason = reason;
    if (to === 'open') this.openedAt = Date.now();
    if (to === 'closed') {
      this.consecutiveFailures = 0;
      this.breaker.reset();
    }
    if (to === 'open' && !shared) this.link?.opened(reason, this.openedAt + this.cfg.cooldownMs);
    if (this.stateChanges.active) this.stateChanges.emit({ name: this.name, from, to, reason });
  }

  /**
   * Applies a record from the store: a transition made by another instance, or the store's answer to ours. `fresh`
   * is false when re-reading after an outage (a record that only says "reset" then clears nothing).
   */
  private adopt(record: SharedCircuitRecord, fresh: boolean): void {
    if (record.state === 'open') {
      if (this.current !== 'open') this.transition('open', record.reason, true);
      // The first opener's cooldown is everyone's.
      this.openedAt = record.openUntil - this.cfg.cooldownMs;
    } else if (record.state === 'half_open') {
      if (this.current !== 'half_open') this.transition('half_open', record.reason, true);
    } else if (fresh && record.reason === 'reset') {
      this.resetLocal();
    } else if (this.current !== 'closed') {
      this.transition('closed', record.reason, true);
    }
  }

  /**
   * Back to closed with every counter cleared. Calls still running finish without touching the new state. With a
   * `stateStore`, every breaker sharing it resets too.
   */
  reset(): void {
    this.resetLocal();
    this.link?.reset();
  }

  private resetLocal(): void {
    const from = this.current;
    this.current = 'closed';
    this.gen++;
    this.resetGen = this.gen;
    this.openedAt = 0;
    this.consecutiveFailures = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.breaker.reset();
    this.calls = this.successes = this.failures = this.timeouts = this.rejections = this.ignored = this.slowCalls = 0;
    this.lastFailureAt = this.lastSuccessAt = null;
    this.lastError = null;
    this.lastReason = 'reset';
    if (this.stateChanges.active) this.stateChanges.emit({ name: this.name, from, to: 'closed', reason: 'reset' });
  }

  /** A snapshot. Performs the due open → half_open transition and nothing else. */
  stats(): CircuitStats {
    const state = this.state;
    const message = this.lastError?.message ?? null;
    return {
      name: this.name,
      state,
      policy: this.cfg.policy,
      counts: {
        calls: this.calls,
        successes: this.successes,
        failures: this.failures,
        timeouts: this.timeouts,
        rejections: this.rejections,
        ignored: this.ignored,
        slowCalls: this.slowCalls,
      },
      consecutiveFailures: this.consecutiveFailures,
      window: this.breaker.window === undefined ? null : this.breaker.window.totals(coarseNow()),
      cooldownRemainingMs: state === 'open' ? Math.max(0, this.openedAt + this.cfg.cooldownMs - Date.now()) : 0,
      lastFailureAt: this.lastFailureAt,
      lastSuccessAt: this.lastSuccessAt,
      lastError:
        message === null || message.length <= MAX_ERROR_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…`,
      probesInFlight: state === 'half_open' ? this.probesInFlight : 0,
      generation: this.gen,
    };
  }

  /** Every state change, including resets. Returns a disposer. */
  onStateChange(listener: Listener<StateChangeEvent>): Disposer {
    return this.stateChanges.on(listener);
  }
  /** Every successful call, with its duration (measured only while someone listens). */
  onSuccess(listener: Listener<SuccessEvent>): Disposer {
    return this.successEvents.on(listener);
  }
  /** Every failed call, counted or not (see `counted`). */
  onFailure(listener: Listener<FailureEvent>): Disposer {
    return this.failureEvents.on(listener);
  }
  /** Every call rejected without running. */
  onRejected(listener: Listener<RejectedEvent>): Disposer {
    return this.rejectedEvents.on(listener);
  }
  /** Every counted call that failed with `TimeoutError`. */
  onTimeout(listener: Listener<CircuitTimeoutEvent>): Disposer {
    return this.timeoutEvents.on(listener);
  }

  /** Drops every listener and detaches from the state store. The breaker stays usable, on local state. */
  dispose(): void {
    this.link?.dispose();
    this.stateChanges.clear();
    this.successEvents.clear();
    this.failureEvents.clear();
    this.rejectedEvents.clear();
    this.timeoutEvents.clear();
  }
}

/** The policy surface of a circuit breaker, as other modules type it. */
export type CircuitBreakerPolicy = CircuitBreaker & Policy;

/**
 * Creates a circuit breaker.
 *
 * Defaults: `threshold` 3 consecutive failures, `cooldownMs` 30 000, `halfOpenMaxProbes` 1, `successThreshold` 1,
 * no `timeoutMs` (probes: `cooldownMs`), policy `consecutive`; window policies: `windowSize` 100, `windowMs` 60 000,
 * `minimumCalls` 10, `failureRateThreshold` 0.5; slow calls off (`slowCallRateThreshold` 0.5 when on).
 *
 * Rejected calls fail at once with `CircuitOpenError` (`retryAfterMs` = cooldown left, 0 when half-open is busy).
 * A non-Error thrown by the function is wrapped in an Error.
 *
 * @throws InvalidOptionsError for a missing name, unknown keys, out-of-range numbers, or options that do not apply
 *   to the chosen policy.
 * @example
 *   const exa = circuitBreaker({ name: 'exa', threshold: 3, cooldownMs: 30_000, timeoutMs: 10_000 });
 *   const res = await exa.execute(({ signal }) => fetch(url, { signal }));
 */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
