import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HttpStatusError } from '../common/httpStatus.js';
import { ExportTimeoutError, exportWithRetry } from './exportRetry.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const OPTIONS = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, timeoutMs: 500 };

describe('exportWithRetry', () => {
  it('retries a failure and stops at the first success; a synchronous throw is a failed attempt', async () => {
    const failures: [number, string, boolean][] = [];
    let calls = 0;
    const done = exportWithRetry(
      'x',
      () => {
        calls++;
        if (calls === 1) throw new Error('sync');
        return calls === 2 ? Promise.reject(new Error('async')) : Promise.resolve();
      },
      OPTIONS,
      (attempt, err, final) => failures.push([attempt, (err as Error).message, final]),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(await done).toBe(true);
    expect(failures).toEqual([
      [1, 'sync', false],
      [2, 'async', false],
    ]);
  });

  it('waits at least a Retry-After within the cap, and gives up at once on one past it', async () => {
    const times: number[] = [];
    const start = Date.now();
    const done = exportWithRetry(
      'x',
      () => {
        times.push(Date.now() - start);
        return Promise.reject(new HttpStatusError(503, { retryAfterMs: times.length === 1 ? 800 : 5000 }));
      },
      OPTIONS,
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await done).toBe(false);
    expect(times).toHaveLength(2);
    expect(times[1]).toBeGreaterThanOrEqual(800);
  });

  it('bounds a hanging attempt: its signal aborts and the attempt fails with a timeout error', async () => {
    const signals: AbortSignal[] = [];
    const errors: unknown[] = [];
    const done = exportWithRetry('hang', (signal) => (signals.push(signal), new Promise<void>(() => {})), { ...OPTIONS, maxAttempts: 2 }, (_a, err) => errors.push(err));
    await vi.advanceTimersByTimeAsync(3000);
    expect(await done).toBe(false);
    expect(signals.map((s) => s.aborted)).toEqual([true, true]);
    expect(errors[0]).toBeInstanceOf(ExportTimeoutError);
    expect(errors[0]).toMatchObject({ code: 'TIMEOUT', name: 'TimeoutError', timeoutMs: 500 });
  });
});
