/**
 * Fixed-window rate limiting per client key, bounded in memory.
 *
 * hono-rate-limiter's memory store keeps one entry per key with no bound, so a client rotating source addresses
 * (an IPv6 /64 holds 2^64 of them) could grow it without limit for a whole window; it also costs five awaits per
 * request. This limiter is synchronous and keeps at most `maxKeys` windows: because every window has the same
 * length, the Map's insertion order is the order in which windows end, so expired windows are swept from the front
 * in amortised O(1), and when the map is full the window that ends soonest is evicted and counted.
 */
import { assertNumber } from '../common/options.js';

export interface RateLimiterOptions {
  /** Requests allowed per key and window. */
  limit: number;
  /** Window length. Default 60 s. */
  windowMs?: number;
  /** Most keys tracked at once; beyond it the window ending soonest is evicted (counted). Default 10,000. */
  maxKeys?: number;
  /** Clock (tests). Default `Date.now`. */
  now?: () => number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until the key's window ends (≥ 1); what a 429 sends as `Retry-After`. */
  retryAfterSeconds: number;
}

export interface RateLimiterStats {
  /** Keys currently tracked. */
  keys: number;
  /** Requests refused since start. */
  limited: number;
  /** Windows evicted early because `maxKeys` was reached (their clients started over). */
  evicted: number;
}

export interface RateLimiter {
  /** Counts one request of `key` and says whether it is allowed. */
  hit(key: string): RateLimitDecision;
  stats(): RateLimiterStats;
}

interface Window {
  count: number;
  endsAt: number;
}

export function createRateLimiter({ limit, windowMs = 60_000, maxKeys = 10_000, now = Date.now }: RateLimiterOptions): RateLimiter {
  assertNumber('rateLimiter', 'limit', limit, { integer: true, min: 1 });
  assertNumber('rateLimiter', 'windowMs', windowMs, { min: 1 });
  assertNumber('rateLimiter', 'maxKeys', maxKeys, { integer: true, min: 1 });
  const windows = new Map<string, Window>();
  let limited = 0;
  let evicted = 0;

  const sweep = (t: number) => {
    for (const [key, w] of windows) {
      if (w.endsAt > t) break;
      windows.delete(key);
    }
  };

  return {
    hit(key) {
      const t = now();
      let w = windows.get(key);
      if (w !== undefined && w.endsAt <= t) {
        // Re-inserted below so the map stays ordered by window end.
        windows.delete(key);
        w = undefined;
      }
      if (w === undefined) {
        sweep(t);
        if (windows.size >= maxKeys) {
          const oldest = windows.keys().next().value as string;
          windows.delete(oldest);
          evicted++;
        }
        w = { count: 0, endsAt: t + windowMs };
        windows.set(key, w);
      }
      w.count++;
      const allowed = w.count <= limit;
      if (!allowed) limited++;
      return { allowed, retryAfterSeconds: Math.max(1, Math.ceil((w.endsAt - t) / 1000)) };
    },
    stats: () => ({ keys: windows.size, limited, evicted }),
  };
}
