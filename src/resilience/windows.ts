/**
 * Fixed-size sliding windows of call outcomes, for the failure-rate and slow-call-rate breaker policies. Both are
 * rings allocated once at construction: memory never grows with traffic.
 */

/** Outcome bits recorded per call. */
export const OUTCOME_FAILURE = 1;
export const OUTCOME_SLOW = 2;

export interface WindowTotals {
  calls: number;
  failures: number;
  slow: number;
}

export interface OutcomeWindow {
  record(outcome: number, now: number): void;
  /** Totals over the window as of `now`. */
  totals(now: number): WindowTotals;
  reset(): void;
}

/** The last `size` calls. */
export class CountWindow implements OutcomeWindow {
  private readonly ring: Uint8Array;
  private next = 0;
  private filled = 0;
  private failures = 0;
  private slow = 0;

  constructor(readonly size: number) {
    this.ring = new Uint8Array(size);
  }

  record(outcome: number): void {
    const ring = this.ring;
    if (this.filled === this.size) {
      const old = ring[this.next]!;
      this.failures -= old & OUTCOME_FAILURE;
      this.slow -= (old & OUTCOME_SLOW) >> 1;
    } else {
      this.filled++;
    }
    ring[this.next] = outcome;
    this.failures += outcome & OUTCOME_FAILURE;
    this.slow += (outcome & OUTCOME_SLOW) >> 1;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
  }

  totals(): WindowTotals {
    return { calls: this.filled, failures: this.failures, slow: this.slow };
  }

  reset(): void {
    this.ring.fill(0);
    this.next = 0;
    this.filled = 0;
    this.failures = 0;
    this.slow = 0;
  }
}

/** Number of buckets a time window is split into: it slides in steps of `windowMs / TIME_WINDOW_BUCKETS`. */
export const TIME_WINDOW_BUCKETS = 10;

/** The calls of the last `windowMs` milliseconds, in {@link TIME_WINDOW_BUCKETS} buckets. */
export class TimeWindow implements OutcomeWindow {
  private readonly bucketMs: number;
  private readonly epochs = new Float64Array(TIME_WINDOW_BUCKETS).fill(-1);
  private readonly calls = new Uint32Array(TIME_WINDOW_BUCKETS);
  private readonly failures = new Uint32Array(TIME_WINDOW_BUCKETS);
  private readonly slow = new Uint32Array(TIME_WINDOW_BUCKETS);
  private lastEpoch = -1;
  private sum: WindowTotals = { calls: 0, failures: 0, slow: 0 };

  constructor(readonly windowMs: number) {
    this.bucketMs = Math.max(1, Math.ceil(windowMs / TIME_WINDOW_BUCKETS));
  }

  record(outcome: number, now: number): void {
    const epoch = this.advance(now);
    const i = epoch % TIME_WINDOW_BUCKETS;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.calls[i] = 0;
      this.failures[i] = 0;
      this.slow[i] = 0;
    }
    this.calls[i]!++;
    this.sum.calls++;
    if (outcome & OUTCOME_FAILURE) {
      this.failures[i]!++;
      this.sum.failures++;
    }
    if (outcome & OUTCOME_SLOW) {
      this.slow[i]!++;
      this.sum.slow++;
    }
  }

  totals(now: number): WindowTotals {
    this.advance(now);
    return { ...this.sum };
  }

  reset(): void {
    this.epochs.fill(-1);
    this.calls.fill(0);
    this.failures.fill(0);
    this.slow.fill(0);
    this.lastEpoch = -1;
    this.sum = { calls: 0, failures: 0, slow: 0 };
  }

  /** Drops buckets that slid out of the window; returns the current epoch. */
  private advance(now: number): number {
    const epoch = Math.floor(now / this.bucketMs);
    if (epoch === this.lastEpoch) return epoch;
    this.lastEpoch = epoch;
    const oldest = epoch - TIME_WINDOW_BUCKETS + 1;
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (let i = 0; i < TIME_WINDOW_BUCKETS; i++) {
      const e = this.epochs[i]!;
      if (e < oldest || e > epoch) {
        // Out of the window (or from the future after a clock step back): forget it.
        this.epochs[i] = -1;
        this.calls[i] = 0;
        this.failures[i] = 0;
        this.slow[i] = 0;
        continue;
      }
      calls += this.calls[i]!;
      failures += this.failures[i]!;
      slow += this.slow[i]!;
    }
    this.sum = { calls, failures, slow };
    return epoch;
  }
}
