/**
 * Bearer-token auth for the service. Two roles: `read` (traces, circuits, ingest, agent runs) and `admin` (resets and
 * deletions). The admin token also grants `read`. Tokens are compared in constant time over SHA-256 digests, so
 * neither the content nor the length of the configured token leaks through timing. A 401 never says which part was
 * wrong.
 *
 * The dashboard authenticates with the same tokens carried in an HttpOnly, SameSite=Strict cookie
 * ({@link AUTH_COOKIE}) instead of the `Authorization` header. A cookie-authenticated request that changes state must
 * also carry {@link CSRF_HEADER}: a header a cross-site page cannot send without a CORS preflight, on top of SameSite.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';

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

/** Name of the dashboard's session cookie (HttpOnly, SameSite=Strict); its value is the token itself. */
export const AUTH_COOKIE = 'agentex_token';
/** Header a cookie-authenticated, state-changing request must carry (any non-empty value). */
export const CSRF_HEADER = 'x-agentex-request';

/** The value of the {@link AUTH_COOKIE} cookie in a `Cookie` header, or null. Never throws on malformed input. */
export function cookieToken(header: string | undefined | null): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== AUTH_COOKIE) continue;
    const raw = part.slice(eq + 1).trim();
    if (raw === '') return null;
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * The credential a request presents: the bearer token when there is an `Authorization` header, else the dashboard
 * cookie. `via` says which, so callers can apply the cookie-only CSRF rule.
 */
export function presentedToken(c: Context): { token: string | null; via: 'bearer' | 'cookie' | null } {
  const header = c.req.header('authorization');
  if (header) return { token: bearerToken(header), via: 'bearer' };
  const cookie = cookieToken(c.req.header('cookie'));
  return cookie === null ? { token: null, via: null } : { token: cookie, via: 'cookie' };
}

/** Which role a presented token grants, or null. Both comparisons always run (no early exit on a match). */
/** Digests of the configured tokens, computed once per tokens object (they never change while it lives). */
const tokenDigests = new WeakMap<object, { api: Buffer; admin: Buffer }>();

export function roleOf(presented: string | null, tokens: Pick<Tokens, 'api' | 'admin'>): Role | null {
  if (presented === null) return null;
  let known = tokenDigests.get(tokens);
  if (!known) {
    known = { api: digest(tokens.api), admin: digest(tokens.admin) };
    tokenDigests.set(tokens, known);
  }
  const given = digest(presented);
  const isAdmin = timingSafeEqual(given, known.admin);
  const isApi = timingSafeEqual(given, known.api);
  return isAdmin ? 'admin' : isApi ? 'read' : null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Hono middleware: 401 `{ error: 'unauthorized' }` unless the request carries a token with `role`, as a bearer
 * header or as the dashboard cookie. A cookie-authenticated request with an unsafe method also needs
 * {@link CSRF_HEADER}, else 403 `{ error: 'csrf' }`.
 */
const AUTH_KEY = 'agentexAuth';

/**
 * The role the request's token grants (and how it was presented), computed once per request: the rate limiter and
 * the role check both need it, and each computation hashes the token twice.
 */
export function requestAuth(c: Context, tokens: Pick<Tokens, 'api' | 'admin'>): { role: Role | null; via: 'bearer' | 'cookie' | null } {
  const cached = c.get(AUTH_KEY as never) as { role: Role | null; via: 'bearer' | 'cookie' | null } | undefined;
  if (cached) return cached;
  const presented = presentedToken(c);
  const auth = { role: roleOf(presented.token, tokens), via: presented.via };
  c.set(AUTH_KEY as never, auth as never);
  return auth;
}

export function requireRole(role: Role, tokens: Pick<Tokens, 'api' | 'admin'>): MiddlewareHandler {
  return async (c, next) => {
    const { role: granted, via } = requestAuth(c, tokens);
    const presented = { via };
    if (granted === null || (role === 'admin' && granted !== 'admin')) {
      c.header('WWW-Authenticate', 'Bearer realm="agentex"');
      return c.json({ error: 'unauthorized', message: 'A valid bearer token is required' }, 401);
    }
    if (presented.via === 'cookie' && !SAFE_METHODS.has(c.req.method) && !c.req.header(CSRF_HEADER)) {
      return c.json({ error: 'csrf', message: `Cookie-authenticated ${c.req.method} requests need the ${CSRF_HEADER} header` }, 403);
    }
    c.set('role' as never, granted);
    await next();
  };
}
