import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { bulkhead } from './bulkhead.js';
import { BulkheadRejectedError, CancelledError } from './errors.js';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('bulkhead', () => {
  it('runs up to maxConcurrent, queues up to maxQueue in order, rejects the rest at once', async () => {
    const b = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const gates = [gate(), gate(), gate()];
    const order: number[] = [];
    const calls = gates.map((g, i) =>
      b.execute(async () => {
        order.push(i);
        await g.promise;
        return i;
      }),
    );
    const rejected = vi.fn();
    b.onRejected(rejected);
    const overflow = await b.execute(async () => 9).catch((e: unknown) => e);
    expect(overflow).toBeInstanceOf(BulkheadRejectedError);
    expect(rejected).toHaveBeenCalledWith({ running: 2, queued: 1 });
    await Promise.resolve();
    expect(order).toEqual([0, 1]);
    expect(b.stats()).toEqual({ running: 2, queued: 1, rejected: 1, maxConcurrent: 2, maxQueue: 1 });
    gates[0]!.open();
    await calls[0];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0, 1, 2]);
    gates[1]!.open();
    gates[2]!.open();
    expect(await Promise.all(calls)).toEqual([0, 1, 2]);
    expect(b.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('releases the slot when the call fails', async () => {
    const b = bulkhead({ maxConcurrent: 1 });
    await expect(b.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(b.execute(() => 2)).resolves.toBe(2);
  });

  it('a queued call leaves the queue when its signal aborts', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const g = gate();
    const first = b.execute(() => g.promise);
    const ac = new AbortController();
    const fn = vi.fn(async () => 1);
    const queued = b.execute(fn, ac.signal).catch((e: unknown) => e);
    expect(b.stats().queued).toBe(1);
    ac.abort('bye');
    expect(await queued).toBeInstanceOf(CancelledError);
    expect(b.stats().queued).toBe(0);
    g.open();
    await first;
    expect(fn).not.toHaveBeenCalled();
    const pre = new AbortController();
    pre.abort();
    await expect(b.execute(fn, pre.signal)).rejects.toBeInstanceOf(CancelledError);
  });

  it('validates options', () => {
    expect(() => bulkhead({} as never)).toThrow(/maxConcurrent.*undefined/);
    expect(() => bulkhead({ maxConcurrent: 0 })).toThrow(InvalidOptionsError);
    expect(() => bulkhead({ maxConcurrent: 1, maxQueue: -1 })).toThrow(/maxQueue/);
    expect(() => bulkhead({ maxConcurrent: 1, queue: 1 } as never)).toThrow(/Unknown option/);
  });
});
