import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { CancelledError, CircuitOpenError, HttpStatusError, TimeoutError } from './errors.js';
import { retry } from './retry.js';

const transient = () => Object.assign(new Error('reset'), { code: 'ECONNRESET' });

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('returns the first success without waiting', async () => {
    const r = retry();
    await expect(r.execute(async () => 1)).resolves.toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retries transient errors with exponential backoff (jitter none) and emits onRetry', async () => {
    const r = retry({ maxAttempts: 4, baseDelayMs: 100, jitter: 'none' });
    const events: unknown[] = [];
    r.onRetry((e) => events.push({ attempt: e.attempt, delayMs: e.delayMs }));
    let n = 0;
    const p = r.execute(async () => {
      if (++n < 4) throw transient();
      return 'done';
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(n).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(n).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(n).toBe(3);
    await vi.advanceTimersByTimeAsync(400);
    await expect(p).resolves.toBe('done');
    expect(events).toEqual([
      { attempt: 1, delayMs: 100 },
      { attempt: 2, delayMs: 200 },
      { attempt: 3, delayMs: 400 },
    ]);
  });

  it('rethrows the last error after maxAttempts', async () => {
    const r = retry({ maxAttempts: 2, baseDelayMs: 10, jitter: 'none' });
    let n = 0;
    const p = r
      .execute(async () => {
        n++;
        throw new TimeoutError(5);
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await p).toBeInstanceOf(TimeoutError);
    expect(n).toBe(2);
  });

  it('never retries caller mistakes or open circuits by default', async () => {
    for (const err of [new TypeError('bad'), new RangeError('bad'), new CircuitOpenError('c', 5), new HttpStatusError(400)]) {
      const fn = vi.fn(async () => {
        throw err;
      });
      await expect(retry({ baseDelayMs: 1 }).execute(fn)).rejects.toBe(err);
      expect(fn).toHaveBeenCalledTimes(1);
    }
  });

  it('shouldRetry decides; a throwing shouldRetry stops retrying', async () => {
    const r = retry({ baseDelayMs: 0, shouldRetry: (e, attempt) => e.message === 'again' && attempt < 2 });
    let n = 0;
    await expect(
      r.execute(async () => {
        n++;
        throw new Error('again');
      }),
    ).rejects.toThrow('again');
    expect(n).toBe(2);
    const r2 = retry({
      baseDelayMs: 0,
      shouldRetry: () => {
        throw new Error('bug');
      },
    });
    let m = 0;
    await expect(
      r2.execute(async () => {
        m++;
        throw transient();
      }),
    ).rejects.toThrow('reset');
    expect(m).toBe(1);
  });

  it('honours Retry-After, and gives up when it exceeds maxDelayMs', async () => {
    const r = retry({ baseDelayMs: 10, jitter: 'none', maxDelayMs: 5000 });
    const delays: number[] = [];
    r.onRetry((e) => delays.push(e.delayMs));
    let n = 0;
    const p = r.execute(async () => {
      if (++n === 1) throw new HttpStatusError(429, { retryAfter: '2' });
      return n;
    });
    await vi.advanceTimersByTimeAsync(2000);
    await expect(p).resolves.toBe(2);
    expect(delays).toEqual([2000]);

    let k = 0;
    await expect(
      r.execute(async () => {
        k++;
        throw new HttpStatusError(503, { retryAfterMs: 60_000 });
      }),
    ).rejects.toBeInstanceOf(HttpStatusError);
    expect(k).toBe(1);
  });

  it('full and decorrelated jitter stay within their bounds', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const full = retry({ baseDelayMs: 100, jitter: 'full', maxAttempts: 2 });
    const dec = retry({ baseDelayMs: 100, jitter: 'decorrelated', maxAttempts: 3, maxDelayMs: 1000 });
    const seen: number[] = [];
    full.onRetry((e) => seen.push(e.delayMs));
    dec.onRetry((e) => seen.push(e.delayMs));
    const fail = async () => {
      throw transient();
    };
    const a = full.execute(fail).catch(() => undefined);
    const b = dec.execute(fail).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all([a, b]);
    // full: 0.5 × 100; decorrelated: 100 + 0.5 × (3×100 − 100) = 200, then 100 + 0.5 × (3×200 − 100) = 350
    expect(seen.sort((x, y) => x - y)).toEqual([50, 200, 350]);
  });

  it('the sleep aborts with the caller signal', async () => {
    const r = retry({ baseDelayMs: 1000, jitter: 'none' });
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      throw transient();
    });
    const p = r.execute(fn, ac.signal).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    ac.abort('stop');
    const err = await p;
    expect(err).toBeInstanceOf(CancelledError);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    await expect(r.execute(fn, ac.signal)).rejects.toBeInstanceOf(CancelledError);
  });

  it('zero delay still checks the signal between attempts', async () => {
    const r = retry({ baseDelayMs: 0, jitter: 'none' });
    const ac = new AbortController();
    const p = r.execute(async () => {
      ac.abort();
      throw transient();
    }, ac.signal);
    await expect(p).rejects.toThrow('reset');
  });

  it('validates options', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(InvalidOptionsError);
    expect(() => retry({ baseDelayMs: -1 })).toThrow(/baseDelayMs/);
    expect(() => retry({ baseDelayMs: 100, maxDelayMs: 50 })).toThrow(/maxDelayMs.*50/);
    expect(() => retry({ jitter: 'some' as never })).toThrow(/jitter.*"some"/);
    expect(() => retry({ shouldRetry: 1 as never })).toThrow(/shouldRetry/);
    expect(() => retry({ tries: 3 } as never)).toThrow(/Unknown option `tries`/);
    expect(retry().options).toEqual({ maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, jitter: 'full' });
  });
});
