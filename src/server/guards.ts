/**
 * The guards of the API's routes (see `routes/route.ts`): each rate-limits the client, then checks its token. Rate
 * limits are kept per client by our bounded limiter (`rateLimit.ts`); a 429 carries Retry-After. With Redis
 * configured (`sharedRateLimit.ts`) the windows are counted in Redis for all instances at once, and by the local
 * limiter only while Redis does not answer.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { requestAuth, requireRole, type Tokens } from './auth.js';
import type { HttpMetrics } from './deps.js';
import { createRateLimiter, type RateLimitDecision, type RateLimiter } from './rateLimit.js';
import type { SharedRateLimits } from './sharedRateLimit.js';
import type { Guards } from './routes/route.js';

export interface GuardOptions {
  tokens: Pick<Tokens, 'api' | 'admin'>;
  /** Requests per minute per client on the API. */
  rateLimit: number;
  /** Admin requests per minute per client. */
  adminRateLimit: number;
  /** OTLP ingest requests per minute per client, on a limiter of its own. */
  ingestRateLimit: number;
  metrics?: Pick<HttpMetrics, 'trackRateLimiter'>;
  /** Windows shared by every instance (Redis); absent = per instance. */
  shared?: SharedRateLimits | undefined;
}

/** Rate-limit window, ms (one minute: limits are per minute). */
const WINDOW_MS = 60_000;

/** The remote address of a request served by @hono/node-server; `unknown` in-process (`app.request`). */
function remoteAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * Rate-limit key: the client — the token it holds (by role) and its address, with the dashboard's cookie session
 * apart from bearer clients of the same address — so one busy holder of a token never locks out the others. Without
 * a valid token the address alone, so sending made-up tokens never buys a fresh bucket.
 */
export function clientKey(c: Context, tokens: Pick<Tokens, 'api' | 'admin'>): string {
  const { role, via } = requestAuth(c, tokens);
  const address = remoteAddress(c);
  if (role) return `${role}:${via === 'cookie' ? 'session' : 'bearer'}:${address}`;
  return `a:${address}`;
}

/** The 429 answer for a refused decision, else undefined. */
function limited(c: Context, decision: RateLimitDecision): Response | undefined {
  if (decision.allowed) return undefined;
  c.header('Retry-After', String(decision.retryAfterSeconds));
  return c.json({ error: 'rate_limited', message: 'Too many requests; retry later' }, 429);
}

/** Builds the guards with their own limiters (registered with the metrics by name: read, admin, ingest). */
export function createGuards({ tokens, rateLimit, adminRateLimit, ingestRateLimit, metrics, shared }: GuardOptions): Guards {
  const limiter = (name: string, limit: number) => {
    const local = createRateLimiter({ limit, windowMs: WINDOW_MS });
    let sharedLimited = 0;
    metrics?.trackRateLimiter?.(name, () => {
      const s = local.stats();
      return { ...s, limited: s.limited + sharedLimited };
    });
    return {
      local,
      async hit(key: string): Promise<RateLimitDecision> {
        const decision = shared ? await shared.hit(name, key, limit, WINDOW_MS) : undefined;
        if (decision === undefined) return local.hit(key);
        if (!decision.allowed) sharedLimited++;
        return decision;
      },
    };
  };
  const api = limiter('read', rateLimit);
  const admin = limiter('admin', adminRateLimit);
  const ingest = limiter('ingest', ingestRateLimit);
  /** Rate limit on `limiter`, then (unless it answered 429) `check`. */
  const guard = (limiter: { hit(key: string): Promise<RateLimitDecision> | RateLimitDecision; local: RateLimiter }, check?: MiddlewareHandler): MiddlewareHandler =>
    async function guard(c, next) {
      const key = clientKey(c, tokens);
      const refused = limited(c, shared ? await limiter.hit(key) : limiter.local.hit(key));
      if (refused) return refused;
      if (check) return check(c, next);
      await next();
      return undefined;
    };
  return {
    read: guard(api, requireRole('read', tokens)),
    admin: guard(admin, requireRole('admin', tokens)),
    limited: guard(api),
    ingest: guard(ingest, requireRole('read', tokens)),
  };
}
