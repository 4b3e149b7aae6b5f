/**
 * Bearer-token auth for the service. Two roles: `read` (traces, circuits, ingest, agent runs) and `admin` (resets and
 * deletions). The admin token also grants `read`. Tokens are compared in constant time over fixed-size, zero-padded
 * slots (sized from the configured tokens in 64-byte steps), so neither the content nor the exact length of a
 * configured token leaks through timing — without hashing on every request (a SHA-256 per request was a tenth of the
 * cost of a small route). A 401 never says which part was wrong.
 *
 * The dashboard authenticates with the same tokens carried in an HttpOnly, SameSite=Strict cookie
 * ({@link AUTH_COOKIE}) instead of the `Authorization` header. A cookie-authenticated request that changes state must
 * also carry {@link CSRF_HEADER}: a header a cross-site page cannot send without a CORS preflight, on top of SameSite.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
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

/** Longest token the configuration accepts, in bytes. */
export const MAX_TOKEN_BYTES = 512;

/**
 * Credentials are compared over zero-padded slots whose size depends only on the configured tokens: their longest
 * length rounded up to {@link SLOT_STEP} bytes. The time of a comparison never depends on the presented token's
 * content or on the configured tokens' exact lengths.
 */
const SLOT_STEP = 64;

/** A credential in a zero-padded slot, with its real length in bytes. */
interface Slot {
  bytes: Buffer;
  length: number;
}

/**
 * Scratch space for presented tokens: a string of at most MAX_TOKEN_BYTES UTF-16 units encodes to at most three
 * bytes per unit, so `write()` always reports its exact byte length (a token is never silently truncated into a
 * match). Requests are checked one at a time, with nothing awaited in between, so one buffer serves them all.
 */
const scratch = Buffer.alloc(MAX_TOKEN_BYTES * 3);

/** Copies a presented credential into the scratch slot of `size` bytes; null when it cannot match (too long). */
function presentedSlot(value: string, size: number): Slot | null {
  if (value.length > MAX_TOKEN_BYTES) return null;
  scratch.fill(0, 0, size);
  const length = scratch.write(value, 'utf8');
  if (length > size) return null;
  return { bytes: scratch.subarray(0, size), length };
}

function slotSize(...secrets: readonly string[]): number {
  const longest = Math.max(...secrets.map((s) => Buffer.byteLength(s, 'utf8')));
  if (longest > MAX_TOKEN_BYTES) throw new RangeError(`tokens must be at most ${MAX_TOKEN_BYTES} bytes`);
  return Math.max(SLOT_STEP, Math.ceil(longest / SLOT_STEP) * SLOT_STEP);
}

function secretSlot(value: string, size: number): Slot {
  const bytes = Buffer.alloc(size);
  return { bytes, length: bytes.write(value, 'utf8') };
}

/** Constant-time equality of two slots of one size: the whole slot is always compared, then the lengths. */
function slotEqual(a: Slot, b: Slot): boolean {
  const sameBytes = timingSafeEqual(a.bytes, b.bytes);
  const sameLength = a.length === b.length;
  return sameBytes && sameLength;
}

/** Compares a presented credential with a secret in constant time (the secret must fit {@link MAX_TOKEN_BYTES}). */
export function safeEqual(presented: string, secret: string): boolean {
  const size = slotSize(secret);
  const p = presentedSlot(presented, size);
  return p !== null && slotEqual(p, secretSlot(secret, size));
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

/** Slots of the configured tokens, made once per tokens object (they never change while it lives). */
const tokenSlots = new WeakMap<object, { size: number; api: Slot; admin: Slot }>();

/** Which role a presented token grants, or null. Both comparisons always run (no early exit on a match). */
export function roleOf(presented: string | null, tokens: Pick<Tokens, 'api' | 'admin'>): Role | null {
  if (presented === null) return null;
  let known = tokenSlots.get(tokens);
  if (!known) {
    const size = slotSize(tokens.api, tokens.admin);
    known = { size, api: secretSlot(tokens.api, size), admin: secretSlot(tokens.admin, size) };
    tokenSlots.set(tokens, known);
  }
  const given = presentedSlot(presented, known.size);
  if (given === null) return null;
  const isAdmin = slotEqual(given, known.admin);
  const isApi = slotEqual(given, known.api);
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
