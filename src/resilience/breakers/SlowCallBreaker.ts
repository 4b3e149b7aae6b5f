/**
 * Slow-call tracking (on when `slowCallMs` is set): wraps another rule and also opens the circuit when the share of
 * slow calls in a window reaches `slowCallRateThreshold`. The window is the inner rule's when it has one (count or
 * time window: one ring records both failures and slow calls), else a count window of its own.
 */
import { CountWindow, type OutcomeWindow } from '../windows.js';
import type { Breaker, OpenReason } from './Breaker.js';
import { rateReached } from './Breaker.js';

export interface SlowCallBreakerOptions {
  /** Calls the window must hold before the slow share is judged. */
  minimumCalls: number;
  /** Slow share in (0, 1] at or above which the circuit opens. */
  slowCallRateThreshold: number;
  /** Size of the count window used when the inner rule has no window. */
  windowSize: number;
}

export class SlowCallBreaker implements Breaker {
  readonly window: OutcomeWindow;
  private readonly ownWindow: boolean;

  constructor(
    private readonly inner: Breaker,
    private readonly options: SlowCallBreakerOptions,
  ) {
    this.ownWindow = inner.window === undefined;
    this.window = inner.window ?? new CountWindow(options.windowSize);
  }

  record(outcome: number, now: number): OpenReason | undefined {
    const reason = this.inner.record(outcome, now);
    if (this.ownWindow) this.window.record(outcome, now);
    if (reason !== undefined || outcome === 0) return reason;
    const { calls, slow } = this.window.totals(now);
    return rateReached(slow, calls, this.options.minimumCalls, this.options.slowCallRateThreshold) ? 'slow_call_rate' : undefined;
  }

  reset(): void {
    this.inner.reset();
    if (this.ownWindow) this.window.reset();
  }
}
