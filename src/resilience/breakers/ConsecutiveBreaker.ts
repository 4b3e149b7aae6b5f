/** Opening rule `consecutive`: the circuit opens after `threshold` counted failures in a row. */
import { OUTCOME_FAILURE } from '../windows.js';
import type { Breaker, OpenReason } from './Breaker.js';

export class ConsecutiveBreaker implements Breaker {
  readonly window = undefined;
  private failures = 0;

  constructor(private readonly threshold: number) {}

  record(outcome: number): OpenReason | undefined {
    if ((outcome & OUTCOME_FAILURE) === 0) {
      this.failures = 0;
      return undefined;
    }
    return ++this.failures >= this.threshold ? 'consecutive_failures' : undefined;
  }

  reset(): void {
    this.failures = 0;
  }
}
