import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { circuitBreaker } from './CircuitBreaker.js';
import type { Policy } from './context.js';
import { CancelledError, CircuitOpenError, TimeoutError } from './errors.js';
import { pipeline } from './pipeline.js';
import { retry } from './retry.js';
import { timeout } from './timeout.js';

describe('pipeline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retry + breaker + timeout: each attempt is bounded, failures reach the breaker, retries stop when it opens', async () => {
    const breaker = circuitBreaker({ name: 'p', threshold: 2 });
    const p = pipeline(retry({ maxAttempts: 5, baseDelayMs: 10, jitter: 'none' }), breaker, timeout(50));
    let attempts = 0;
    const signals: AbortSignal[] = [];
    const run = p
      .execute(({ signal }) => {
        attempts++;
        signals.push(signal);
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50 + 10 + 50 + 20);
    // Two timeouts opened the breaker; the third attempt was rejected, and CircuitOpenError is not retried.
    expect(await run).toBeInstanceOf(CircuitOpenError);
    expect(attempts).toBe(2);
    expect(signals.every((s) => s.aborted && s.reason instanceof TimeoutError)).toBe(true);
    expect(breaker.stats().counts).toMatchObject({ failures: 2, timeouts: 2, rejections: 1 });
  });

  it('passes values through, and the caller signal reaches the function', async () => {
    const p = pipeline(retry(), circuitBreaker({ name: 'q' }), timeout(1000));
    await expect(p.execute(async () => 'v')).resolves.toBe('v');
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const run = p
      .execute(({ signal }) => {
        seen = signal;
        return new Promise(() => {});
      }, ac.signal)
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    ac.abort('user');
    expect(await run).toBeInstanceOf(CancelledError);
    expect(seen?.aborted).toBe(true);
  });

  it('works with foreign policies and with no policy', async () => {
    const calls: string[] = [];
    const foreign: Policy = {
      execute: async (fn, signal) => {
        calls.push(`foreign:${signal ? 'signal' : 'none'}`);
        return fn({ signal: signal ?? new AbortController().signal });
      },
    };
    await expect(pipeline(foreign, timeout(100)).execute(async () => 1)).resolves.toBe(1);
    await expect(pipeline(timeout(100), foreign).execute(async () => 2)).resolves.toBe(2);
    await expect(pipeline().execute(() => 3)).resolves.toBe(3);
    expect(calls).toEqual(['foreign:none', 'foreign:signal']);
  });

  it('rejects non-policies', () => {
    expect(() => pipeline({} as Policy)).toThrow(InvalidOptionsError);
    expect(() => pipeline(null as unknown as Policy)).toThrow(/pipeline argument 0/);
  });
});
