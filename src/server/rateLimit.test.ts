import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rateLimit.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createRateLimiter', () => {
  it('allows `limit` requests per window and refuses the rest with the seconds left in the window', () => {
    const c = clock();
    const rl = createRateLimiter({ limit: 3, windowMs: 60_000, now: c.now });
    expect([1, 2, 3].map(() => rl.hit('a').allowed)).toEqual([true, true, true]);
    c.advance(20_500);
    expect(rl.hit('a')).toEqual({ allowed: false, retryAfterSeconds: 40 });
    expect(rl.hit('b').allowed).toBe(true); // keys are independent
    expect(rl.stats()).toEqual({ keys: 2, limited: 1, evicted: 0 });
  });

  it('starts a new window once the old one has ended', () => {
    const c = clock();
    const rl = createRateLimiter({ limit: 1, windowMs: 1000, now: c.now });
    expect(rl.hit('a').allowed).toBe(true);
    expect(rl.hit('a').allowed).toBe(false);
    c.advance(999);
    expect(rl.hit('a').allowed).toBe(false);
    c.advance(1);
    expect(rl.hit('a').allowed).toBe(true);
  });

  it('never answers a Retry-After below one second', () => {
    const c = clock();
    const rl = createRateLimiter({ limit: 1, windowMs: 1000, now: c.now });
    rl.hit('a');
    c.advance(999.9);
    expect(rl.hit('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('forgets windows that have ended, so idle clients cost no memory', () => {
    const c = clock();
    const rl = createRateLimiter({ limit: 5, windowMs: 1000, now: c.now });
    for (let i = 0; i < 100; i++) rl.hit(`client-${i}`);
    expect(rl.stats().keys).toBe(100);
    c.advance(1000);
    rl.hit('late');
    expect(rl.stats()).toEqual({ keys: 1, limited: 0, evicted: 0 });
  });

  it('keeps at most maxKeys windows, evicting the one that ends soonest and counting it', () => {
    const c = clock();
    const rl = createRateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3, now: c.now });
    for (const key of ['a', 'b', 'c']) {
      rl.hit(key);
      c.advance(10);
    }
    expect(rl.hit('a').allowed).toBe(false); // a is tracked and used up
    rl.hit('d'); // full: a (oldest window) goes
    expect(rl.stats()).toEqual({ keys: 3, limited: 1, evicted: 1 });
    expect(rl.hit('a').allowed).toBe(true); // a starts over; b is evicted for it
    expect(rl.hit('c').allowed).toBe(false); // c kept its window
    expect(rl.stats().evicted).toBe(2);
  });

  it('rejects options that make no sense, naming them', () => {
    expect(() => createRateLimiter({ limit: 0 })).toThrow(/limit/);
    expect(() => createRateLimiter({ limit: 1.5 })).toThrow(/limit/);
    expect(() => createRateLimiter({ limit: 1, windowMs: 0 })).toThrow(/windowMs/);
    expect(() => createRateLimiter({ limit: 1, maxKeys: 0 })).toThrow(/maxKeys/);
  });

  it('property: within one window a key is allowed at most `limit` times, and the map never exceeds maxKeys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 12 }), wait: fc.integer({ min: 0, max: 400 }) }), { maxLength: 300 }),
        (limit, maxKeys, steps) => {
          const c = clock(0);
          const windowMs = 1000;
          const rl = createRateLimiter({ limit, windowMs, maxKeys, now: c.now });
          // The model: a key's window starts at its first hit after the previous window ended.
          const model = new Map<number, { start: number; count: number }>();
          for (const { key, wait } of steps) {
            c.advance(wait);
            const decision = rl.hit(String(key));
            expect(rl.stats().keys).toBeLessThanOrEqual(maxKeys);
            expect(decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
            expect(decision.retryAfterSeconds).toBeLessThanOrEqual(windowMs / 1000);
            let w = model.get(key);
            if (!w || c.now() >= w.start + windowMs) model.set(key, (w = { start: c.now(), count: 0 }));
            w.count++;
            // An eviction makes its key start over early, so the model holds exactly until the first one.
            if (rl.stats().evicted === 0) expect(decision.allowed).toBe(w.count <= limit);
          }
        },
      ),
    );
  });
});
