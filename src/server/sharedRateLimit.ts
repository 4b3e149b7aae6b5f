/**
 * Rate limits shared by every instance, on Redis: one fixed window per (limiter, client) as a Redis counter that
 * an atomic script increments and expires, so N instances behind a balancer allow a client `limit` requests per
 * window in all, not N × `limit`. Commands fail fast while Redis is unreachable (no offline queue, short timeout);
 * the guard then counts on its own bounded per-instance limiter until Redis answers again (logged once per outage).
 * Keys expire with their window, so Redis holds at most one key per client active in the last window.
 */
import { describeCause } from '../common/persistence/errors.js';
import type { RateLimitDecision } from './rateLimit.js';

/** Increments the window's counter, starting the window on the first hit; returns the count and ms left. */
const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

export interface SharedRateLimitStats {
  /** True from a failed Redis call until the next successful one (the guards count per instance meanwhile). */
  degraded: boolean;
  /** Redis calls that failed (each fell back to the local limiter). */
  errors: number;
}

export interface SharedRateLimits {
  /** Counts one request of `key` on limiter `name`, cluster-wide; undefined when Redis did not answer. */
  hit(name: string, key: string, limit: number, windowMs: number): Promise<RateLimitDecision | undefined>;
  stats(): SharedRateLimitStats;
  close(): Promise<void>;
}

export interface SharedRateLimitOptions {
  url: string;
  /** Key prefix. Default `agentex:rl:`. */
  keyPrefix?: string;
  /** Per-command timeout, ms: what a request may wait on Redis before counting locally. Default 250. */
  commandTimeoutMs?: number;
  logger: { warn(fields: Record<string, unknown>, message: string): void };
}

export async function createSharedRateLimits({ url, keyPrefix = 'agentex:rl:', commandTimeoutMs = 250, logger }: SharedRateLimitOptions): Promise<SharedRateLimits> {
  // The driver loads only when Redis is configured: SQLite users never load `ioredis`.
  const ioredis = await import('ioredis');
  const client = new ioredis.Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 2000),
  });
  client.on('error', () => undefined); // reported below, once per outage
  client.connect().catch(() => undefined);
  let degraded = false;
  let errors = 0;
  return {
    async hit(name, key, limit, windowMs) {
      try {
        const [count, ttl] = (await client.eval(HIT, 1, `${keyPrefix}${name}:${key}`, Math.max(1, Math.round(windowMs)))) as [number, number];
        if (degraded) {
          degraded = false;
          logger.warn({ backend: 'redis' }, 'shared rate limits recovered');
        }
        return { allowed: count <= limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
      } catch (err) {
        errors++;
        if (!degraded) {
          degraded = true;
          logger.warn({ backend: 'redis', error: describeCause(err) }, 'shared rate limits unavailable; counting per instance until Redis answers');
        }
        return undefined;
      }
    },
    stats: () => ({ degraded, errors }),
    // eslint-disable-next-line @typescript-eslint/require-await -- disconnect is synchronous
    async close() {
      client.disconnect();
    },
  };
}
