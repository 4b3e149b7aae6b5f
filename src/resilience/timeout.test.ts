import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { CancelledError, TimeoutError } from './errors.js';
import { timeout } from './timeout.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('timeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes values and errors through when the call finishes in time', async () => {
    const t = timeout(100);
    await expect(t.execute(async () => 7)).resolves.toBe(7);
    await expect(t.execute(() => 8)).resolves.toBe(8);
    await expect(t.execute(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(
      t.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(t.inFlight).toBe(0);
  });

  it('wraps a thrown non-Error', async () => {
    const t = timeout(100);
    const err = await t
      .execute(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw 'plain string';
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('plain string');
  });

  it('rejects with TimeoutError at the deadline and aborts the signal', async () => {
    const t = timeout(50);
    let signal: AbortSignal | undefined;
    const seen = vi.fn();
    t.onTimeout(seen);
    const p = t.execute(({ signal: s }) => {
      signal = s;
      return new Promise(() => {});
    });
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(49);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await caught;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(50);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(err);
    expect(seen).toHaveBeenCalledWith({ timeoutMs: 50 });
    expect(t.inFlight).toBe(0);
  });

  it('rejects even when the function ignores its signal, and ignores its late result', async () => {
    const t = timeout(10);
    const d = deferred<number>();
    const p = t.execute(() => d.promise).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    d.resolve(1);
    expect(await p).toBeInstanceOf(TimeoutError);
  });

  it('a signal read after expiry is already aborted', async () => {
    const t = timeout(10);
    let ctxRef: { signal: AbortSignal } | undefined;
    const p = t
      .execute((ctx) => {
        ctxRef = ctx;
        return new Promise(() => {});
      })
      .catch(() => undefined);
    await vi.advanceTimersByTimeAsync(10);
    await p;
    expect(ctxRef?.signal.aborted).toBe(true);
  });

  it('shares one timer: many calls in flight, deadlines in order, nothing left behind', async () => {
    const t = timeout(100);
    const d = [deferred<number>(), deferred<number>(), deferred<number>()];
    const results = d.map((x, i) => {
      const p = t.execute(() => x.promise).then(
        (v) => `ok ${v}`,
        (e: Error) => e.name,
      );
      void vi.advanceTimersByTimeAsync(0);
      if (i < 2) vi.advanceTimersByTime(20);
      return p;
    });
    expect(vi.getTimerCount()).toBe(1);
    d[1]!.resolve(2);
    await vi.advanceTimersByTimeAsync(60); // t=100: first expires
    d[2]!.resolve(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(await Promise.all(results)).toEqual(['TimeoutError', 'ok 2', 'ok 3']);
    expect(t.inFlight).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('honours the caller signal: already aborted, and aborted mid-call', async () => {
    const t = timeout(1000);
    const fn = vi.fn(() => new Promise(() => {}));
    const ac = new AbortController();
    ac.abort('stop');
    await expect(t.execute(fn, ac.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(fn).not.toHaveBeenCalled();

    const ac2 = new AbortController();
    let inner: AbortSignal | undefined;
    const p = t
      .execute(({ signal }) => {
        inner = signal;
        return new Promise(() => {});
      }, ac2.signal)
      .catch((e: unknown) => e);
    ac2.abort('user');
    const err = await p;
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).cause).toBe('user');
    expect(inner?.aborted).toBe(true);
    expect(t.inFlight).toBe(0);
  });

  it('removes its listener from the caller signal once the call finishes', async () => {
    const t = timeout(1000);
    const ac = new AbortController();
    const add = vi.spyOn(ac.signal, 'addEventListener');
    const remove = vi.spyOn(ac.signal, 'removeEventListener');
    await t.execute(async () => 1, ac.signal);
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('Infinity disables the deadline but keeps honouring the signal', async () => {
    const t = timeout(Infinity);
    await expect(t.execute(async () => 3)).resolves.toBe(3);
    const ac = new AbortController();
    ac.abort();
    await expect(t.execute(async () => 3, ac.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects invalid durations naming the value', () => {
    expect(() => timeout(0)).toThrow(InvalidOptionsError);
    expect(() => timeout(-5)).toThrow(/ms/);
    expect(() => timeout(Number.NaN)).toThrow(/NaN/);
    expect(() => timeout(2 ** 31)).toThrow(InvalidOptionsError);
    expect(() => timeout('10' as unknown as number)).toThrow(/"10"/);
  });

  it('nested timeouts: the outer expiry cancels the inner call', async () => {
    const outer = timeout(10);
    const inner = timeout(1000);
    let innerSignal: AbortSignal | undefined;
    const p = outer
      .execute(({ signal }) =>
        inner.execute(({ signal: s }) => {
          innerSignal = s;
          return new Promise(() => {});
        }, signal),
      )
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await p).toBeInstanceOf(TimeoutError);
    expect(innerSignal?.aborted).toBe(true);
    expect(inner.inFlight).toBe(0);
  });
});
