/**
 * Opening rule `timeWindow`: the circuit opens when the failure share of the calls of the last `windowMs` is too
 * high. The window slides in tenths (see `TimeWindow`). cockatiel's `SamplingBreaker` is the model.
 */
import { TimeWindow } from '../windows.js';
import type { Breaker, OpenReason } from './Breaker.js';
import { rateReached } from './Breaker.js';
import type { RateBreakerOptions } from './CountBreaker.js';

export class TimeBreaker implements Breaker {
  readonly window: TimeWindow;

  constructor(
    windowMs: number,
    private readonly options: RateBreakerOptions,
  ) {
    this.window = new TimeWindow(windowMs);
  }

  record(outcome: number, now: number): OpenReason | undefined {
    this.window.record(outcome, now);
    // Judged on failures and slow calls only, as before: a fast success is never the call that opens the circuit.
    if (outcome === 0) return undefined;
    const { calls, failures } = this.window.totals(now);
    return rateReached(failures, calls, this.options.minimumCalls, this.options.failureRateThreshold) ? 'failure_rate' : undefined;
  }

  reset(): void {
    this.window.reset();
  }
}
