/**
 * The guards of the API's routes (see `routes/route.ts`): each rate-limits the client, then checks its token. Rate
 * limits are kept per client by our bounded limiter (`rateLimit.ts`); a 429 carries Retry-After.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { requestAuth, requireRole, type Tokens } from './auth.js';
import type { HttpMetrics } from './deps.js';
import { createRateLimiter, type RateLimiter } from './rateLimit.js';
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
}

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

/** The 429 answer when the client used up its window on `limiter`, else undefined. */
function limited(c: Context, limiter: RateLimiter, key: string): Response | undefined {
  const decision = limiter.hit(key);
  if (decision.allowed) return undefined;
  c.header('Retry-After', String(decision.retryAfterSeconds));
  return c.json({ error: 'rate_limited', message: 'Too many requests; retry later' }, 429);
}

/** Builds the guards with their own limiters (registered with the metrics by name: read, admin, ingest). */
export function createGuards({ tokens, rateLimit, adminRateLimit, ingestRateLimit, metrics }: GuardOptions): Guards {
  const api = createRateLimiter({ limit: rateLimit });
  const admin = createRateLimiter({ limit: adminRateLimit });
  const ingest = createRateLimiter({ limit: ingestRateLimit });
  metrics?.trackRateLimiter?.('read', () => api.stats());
  metrics?.trackRateLimiter?.('admin', () => admin.stats());
  metrics?.trackRateLimiter?.('ingest', () => ingest.stats());
  /** Rate limit on `limiter`, then (unless it answered 429) `check`. */
  const guard = (limiter: RateLimiter, check?: MiddlewareHandler): MiddlewareHandler =>
    async function guard(c, next) {
      const refused = limited(c, limiter, clientKey(c, tokens));
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
