import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { createL1Cache } from './L1Cache.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('L1Cache', () => {
  it('counts hits and misses and evicts least-recently used entries past maxEntries', () => {
    const l1 = createL1Cache<string>({ maxEntries: 2, sweepIntervalMs: 0 });
    l1.set('a', 'A', 1, 0);
    l1.set('b', 'B', 1, 0);
    expect(l1.get('a')).toBe('A'); // a is now most recent
    l1.set('c', 'C', 1, 0);
    expect(l1.get('b')).toBeUndefined();
    expect(l1.stats()).toMatchObject({ entries: 2, hits: 1, misses: 1, evictions: 1 });
  });

  it('stays within maxBytes and refuses an entry larger than the cap', () => {
    const l1 = createL1Cache<string>({ maxBytes: 100, sweepIntervalMs: 0 });
    for (let i = 0; i < 10; i++) l1.set(`k${i}`, 'v', 30, 0);
    expect(l1.stats().bytes).toBeLessThanOrEqual(100);
    expect(l1.stats().entries).toBe(3);
    expect(l1.stats().evictions).toBe(7);
    l1.set('k9', 'old', 30, 0);
    expect(l1.set('k9', 'huge', 101, 0)).toBe(false);
    expect(l1.get('k9')).toBeUndefined(); // the stale smaller value is not kept either
    expect(l1.stats().rejected).toBe(1);
  });

  it('expires entries by TTL on read and in the periodic sweep', () => {
    vi.useFakeTimers();
    const l1 = createL1Cache<string>({ sweepIntervalMs: 1000, clock: { now: () => Date.now() } });
    l1.set('short', 's', 1, 500);
    l1.set('long', 'l', 1, 60_000);
    l1.set('read', 'r', 1, 500);
    expect(l1.remainingTtl('long')).toBeGreaterThan(59_000);
    vi.advanceTimersByTime(600);
    expect(l1.get('read')).toBeUndefined();
    vi.advanceTimersByTime(600); // the sweep runs
    expect(l1.stats().entries).toBe(1);
    expect(l1.stats().expired).toBe(2);
    expect(l1.remainingTtl('short')).toBe(0);
    expect(l1.delete('long')).toBe(true);
    l1.set('x', 'x', 1, 0);
    l1.clear();
    expect(l1.stats().entries).toBe(0);
    l1.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('validates options', () => {
    expect(() => createL1Cache({ maxEntries: 0 })).toThrow(InvalidOptionsError);
    expect(() => createL1Cache({ maxBytes: 1.5 })).toThrow(/maxBytes/);
    expect(() => createL1Cache({ size: 1 } as never)).toThrow(/size/);
  });
});
