import { describe, expect, it } from 'vitest';
import { OUTCOME_FAILURE as F, OUTCOME_SLOW as S } from '../windows.js';
import { ConsecutiveBreaker } from './ConsecutiveBreaker.js';
import { CountBreaker } from './CountBreaker.js';
import { SlowCallBreaker } from './SlowCallBreaker.js';
import { TimeBreaker } from './TimeBreaker.js';

describe('opening rules', () => {
  it('ConsecutiveBreaker opens on the threshold-th failure in a row; a success starts over', () => {
    const b = new ConsecutiveBreaker(3);
    expect([b.record(F), b.record(F), b.record(0), b.record(F), b.record(F)]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(b.record(F)).toBe('consecutive_failures');
    b.reset();
    expect(b.record(F)).toBeUndefined();
    expect(b.window).toBeUndefined();
  });

  it('CountBreaker judges the failure share of the last windowSize calls once minimumCalls are in', () => {
    const b = new CountBreaker(4, { minimumCalls: 4, failureRateThreshold: 0.5 });
    expect(b.record(F)).toBeUndefined(); // 1 call: below minimumCalls
    b.record(0);
    b.record(0);
    expect(b.record(F)).toBe('failure_rate'); // 2 of 4
    expect(b.window.totals()).toEqual({ calls: 4, failures: 2, slow: 0 });
    b.record(0);
    b.record(0); // the first two outcomes slid out
    expect(b.window.totals()).toEqual({ calls: 4, failures: 1, slow: 0 });
    b.reset();
    expect(b.window.totals()).toEqual({ calls: 0, failures: 0, slow: 0 });
  });

  it('TimeBreaker judges only the calls of the last windowMs', () => {
    const b = new TimeBreaker(1000, { minimumCalls: 2, failureRateThreshold: 1 });
    expect(b.record(F, 0)).toBeUndefined();
    expect(b.record(F, 2000)).toBeUndefined(); // the first failure left the window
    expect(b.record(F, 2100)).toBe('failure_rate');
  });

  it('SlowCallBreaker keeps its own count window under a rule without one, and shares a window rule’s ring', () => {
    const own = new SlowCallBreaker(new ConsecutiveBreaker(100), { minimumCalls: 2, slowCallRateThreshold: 0.5, windowSize: 10 });
    expect(own.record(0, 0)).toBeUndefined();
    expect(own.record(S, 0)).toBe('slow_call_rate');
    expect(own.window.totals(0)).toEqual({ calls: 2, failures: 0, slow: 1 });

    const inner = new CountBreaker(10, { minimumCalls: 3, failureRateThreshold: 1 });
    const shared = new SlowCallBreaker(inner, { minimumCalls: 3, slowCallRateThreshold: 0.6, windowSize: 10 });
    expect(shared.window).toBe(inner.window);
    shared.record(S, 0);
    shared.record(F | S, 0);
    expect(inner.window.totals()).toEqual({ calls: 2, failures: 1, slow: 2 }); // recorded once, not twice
    expect(shared.record(0, 0)).toBeUndefined(); // a fast success is never judged
    expect(shared.record(S, 0)).toBe('slow_call_rate'); // 3 of 4
  });
});
