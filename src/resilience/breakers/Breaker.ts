/**
 * The interface every opening rule of the circuit breaker implements. A rule sees the outcome of each counted call
 * that ran while the circuit was closed and says when the circuit must open; the state machine (open, half-open,
 * probes, generations) stays in `CircuitBreaker.ts`. Modelled on cockatiel's `IBreaker`.
 */
import type { OutcomeWindow } from '../windows.js';

/** Why a rule wants the circuit open. */
export type OpenReason = 'consecutive_failures' | 'failure_rate' | 'slow_call_rate';

export interface Breaker {
  /**
   * Records the outcome of one counted call that ran while closed (bits `OUTCOME_FAILURE` | `OUTCOME_SLOW`; 0 is a
   * fast success) at coarse time `now`. Returns why the circuit must open now, or undefined to stay closed.
   */
  record(outcome: number, now: number): OpenReason | undefined;
  /** Forgets everything recorded (the circuit closed again or was reset). */
  reset(): void;
  /** The sliding window behind the rule, shown in stats; undefined when the rule keeps none. */
  readonly window: OutcomeWindow | undefined;
}

/** A rate over a window's totals, judged once it holds `minimumCalls` calls. */
export function rateReached(part: number, calls: number, minimumCalls: number, threshold: number): boolean {
  return calls >= minimumCalls && part / calls >= threshold;
}
