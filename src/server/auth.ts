/**
 * Bearer-token auth for the service. Two roles: `read` (traces, circuits, ingest, agent runs) and `admin` (resets and
 * deletions). The admin token also grants `read`. Tokens are compared in constant time over SHA-256 digests, so
 * neither the content nor the length of the configured token leaks through timing. A 401 never says which part was
 * wrong.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

export type Role = 'read' | 'admin';

export interface Tokens {
  api: string;
  admin: string;
  /** True for each token that was generated at start (and must be printed once). */
  generated: { api: boolean; admin: boolean };
}

/** 32 random bytes, base64url: what the service generates when a token is not configured. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Resolves the configured tokens, generating the missing ones. */
export function resolveTokens(api: string | undefined, admin: string | undefined): Tokens {
  return {
    api: api ?? generateToken(),
    admin: admin ?? generateToken(),
    generated: { api: api === undefined, admin: admin === undefined },
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares a presented credential with a secret in constant time. */
export function safeEqual(presented: string, secret: string): boolean {
  return timingSafeEqual(digest(presented), digest(secret));
}

/** Extracts the bearer token of an `Authorization` header, or null. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return match?.[1] ?? null;
}

/** Which role a presented token grants, or null. Both comparisons always run (no early exit on a match). */
export function roleOf(presented: string | null, tokens: Pick<Tokens, 'api' | 'admin'>): Role | null {
  if (presented === null) return null;
  const isAdmin = safeEqual(presented, tokens.admin);
  const isApi = safeEqual(presented, tokens.api);
  return isAdmin ? 'admin' : isApi ? 'read' : null;
}

/** Hono middleware: 401 `{ error: 'unauthorized' }` unless the request carries a token with `role`. */
export function requireRole(role: Role, tokens: Pick<Tokens, 'api' | 'admin'>): MiddlewareHandler {
  return async (c, next) => {
    const granted = roleOf(bearerToken(c.req.header('authorization')), tokens);
    if (granted === null || (role === 'admin' && granted !== 'admin')) {
      c.header('WWW-Authenticate', 'Bearer realm="agentex"');
      return c.json({ error: 'unauthorized', message: 'A valid bearer token is required' }, 401);
    }
    c.set('role' as never, granted);
    await next();
  };
}
