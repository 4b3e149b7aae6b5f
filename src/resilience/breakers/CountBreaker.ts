/** Opening rule `countWindow`: the circuit opens when the failure share of the last `windowSize` calls is too high. */
import { CountWindow } from '../windows.js';
import type { Breaker, OpenReason } from './Breaker.js';
import { rateReached } from './Breaker.js';

export interface RateBreakerOptions {
  /** Calls the window must hold before the rate is judged. */
  minimumCalls: number;
  /** Failure share in (0, 1] at or above which the circuit opens. */
  failureRateThreshold: number;
}

export class CountBreaker implements Breaker {
  readonly window: CountWindow;

  constructor(
    windowSize: number,
    private readonly options: RateBreakerOptions,
  ) {
    this.window = new CountWindow(windowSize);
  }

  record(outcome: number): OpenReason | undefined {
    this.window.record(outcome);
    // A fast success never raises the failure share of a count window.
    if (outcome === 0) return undefined;
    const { calls, failures } = this.window.totals();
    return rateReached(failures, calls, this.options.minimumCalls, this.options.failureRateThreshold) ? 'failure_rate' : undefined;
  }

  reset(): void {
    this.window.reset();
  }
}
