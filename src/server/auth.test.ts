import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { bearerToken, generateToken, MAX_TOKEN_BYTES, requireRole, resolveTokens, roleOf, safeEqual } from './auth.js';

describe('tokens', () => {
  it('generates distinct 256-bit url-safe tokens only for what is not configured', () => {
    const a = generateToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(a);
    const t = resolveTokens('configured-api-token-123', undefined);
    expect(t.api).toBe('configured-api-token-123');
    expect(t.generated).toEqual({ api: false, admin: true });
    expect(t.admin).toHaveLength(43);
  });

  it('compares whatever the lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'abc')).toBe(false);
  });

  it('parses bearer headers strictly', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });

  it('grants admin to the admin token and read to the api token', () => {
    const tokens = { api: 'api-token', admin: 'admin-token' };
    expect(roleOf('admin-token', tokens)).toBe('admin');
    expect(roleOf('api-token', tokens)).toBe('read');
    expect(roleOf('other', tokens)).toBeNull();
    expect(roleOf(null, tokens)).toBeNull();
  });

  it('tells tokens apart by length as well as by content (slots are zero-padded)', () => {
    const tokens = { api: 'api-token', admin: 'admin-token' };
    expect(roleOf('api-toke', tokens)).toBeNull();
    expect(roleOf('api-token-', tokens)).toBeNull();
    expect(roleOf('', tokens)).toBeNull();
    expect(roleOf('api-tokeN', tokens)).toBeNull();
  });

  it('matches a token of the maximum length and refuses anything longer, even when a prefix matches', () => {
    const longest = 'x'.repeat(MAX_TOKEN_BYTES);
    const tokens = { api: longest, admin: 'admin-token' };
    expect(roleOf(longest, tokens)).toBe('read');
    expect(roleOf(`${longest}x`, tokens)).toBeNull();
    // 511 ASCII bytes + a two-byte character: 513 bytes, whose first 512 would not fit a slot — never a match.
    expect(roleOf(`${'x'.repeat(MAX_TOKEN_BYTES - 1)}é`, tokens)).toBeNull();
    expect(roleOf('é'.repeat(MAX_TOKEN_BYTES), tokens)).toBeNull();
    // A secret one byte shorter than the scratch slot, presented with a multi-byte character after it: the write
    // must never stop early and report a prefix as the whole token.
    const almost = 'x'.repeat(MAX_TOKEN_BYTES - 1);
    expect(roleOf(`${almost}é`, { api: almost, admin: 'admin-token' })).toBeNull();
    expect(roleOf(`${'y'.repeat(63)}é`, { api: 'y'.repeat(63), admin: 'admin-token' })).toBeNull();
    // Tokens longer than one 64-byte step still match exactly.
    const seventy = 'z'.repeat(70);
    expect(roleOf(seventy, { api: 'api-token', admin: seventy })).toBe('admin');
    expect(roleOf(seventy.slice(0, 64), { api: 'api-token', admin: seventy })).toBeNull();
    expect(() => roleOf('x', { api: `${longest}x`, admin: 'admin-token' })).toThrow(RangeError);
    expect(() => safeEqual('x', `${longest}x`)).toThrow(RangeError);
  });
});

describe('requireRole', () => {
  const tokens = { api: 'api-token', admin: 'admin-token' };
  const app = new Hono();
  app.get('/read', requireRole('read', tokens), (c) => c.text('ok'));
  app.post('/admin', requireRole('admin', tokens), (c) => c.text('ok'));
  const call = (path: string, method: string, token?: string) =>
    app.request(path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers 401 with the same body whether the token is missing or wrong', async () => {
    const missing = await call('/read', 'GET');
    const wrong = await call('/read', 'GET', 'nope');
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(await missing.text()).toBe(await wrong.text());
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('lets admin read, and refuses admin routes to the read token', async () => {
    expect((await call('/read', 'GET', 'api-token')).status).toBe(200);
    expect((await call('/read', 'GET', 'admin-token')).status).toBe(200);
    expect((await call('/admin', 'POST', 'api-token')).status).toBe(401);
    expect((await call('/admin', 'POST', 'admin-token')).status).toBe(200);
  });
});
