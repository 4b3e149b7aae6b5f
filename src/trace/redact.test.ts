import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createRedactor, normalizeKey, redact, Redactor } from './redact.js';
import { cutKey, MAX_NAME_CHARS } from './bounds.js';
import type { SafeJson } from './safeValue.js';
import { InvalidOptionsError } from '../common/errors.js';

// Secret-shaped fixtures are assembled at run time (prefix + random characters) so no scanner flags the repository.
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function rand(n: number, alphabet = ALNUM): string {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[bytes[i]! % alphabet.length];
  // Guarantee letters and digits both appear (entropy rules want both).
  return `${out.slice(0, -2)}a7`;
}
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';
const hex = (n: number) => rand(n, HEX);
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const b64url = (s: string) => Buffer.from(s).toString('base64url');

const corpus: { name: string; secret: string; kind: string; context?: (s: string) => string }[] = [
  { name: 'OpenAI key', secret: `sk-${rand(48)}`, kind: 'openai_key' },
  { name: 'OpenAI project key', secret: `sk-proj-${rand(60)}`, kind: 'openai_key' },
  { name: 'Anthropic key', secret: `sk-ant-api03-${rand(80)}`, kind: 'anthropic_key' },
  { name: 'Tavily key', secret: `tvly-${rand(32)}`, kind: 'tavily_key' },
  { name: 'GitHub classic token', secret: `ghp_${rand(36)}`, kind: 'github_token' },
  { name: 'GitHub fine-grained token', secret: `github_pat_${rand(22)}_${rand(59)}`, kind: 'github_token' },
  { name: 'GitLab token', secret: `glpat-${rand(20)}`, kind: 'gitlab_token' },
  { name: 'Slack bot token', secret: `xoxb-${rand(12, '0123456789')}-${rand(24)}`, kind: 'slack_token' },
  { name: 'Slack webhook', secret: `https://hooks.slack.com/services/T${rand(8)}/B${rand(8)}/${rand(24)}`, kind: 'slack_token' },
  { name: 'Stripe live key', secret: `sk_live_${rand(24)}`, kind: 'stripe_key' },
  { name: 'Stripe restricted key', secret: `rk_test_${rand(24)}`, kind: 'stripe_key' },
  { name: 'Google API key', secret: `AIza${rand(35)}`, kind: 'google_api_key' },
  { name: 'Google OAuth token', secret: `ya29.${rand(60)}`, kind: 'google_oauth_token' },
  { name: 'AWS access key id', secret: `AKIA${rand(16, UPPER_DIGITS).toUpperCase()}`, kind: 'aws_access_key_id' },
  {
    name: 'AWS secret key',
    secret: rand(40, `${ALNUM}/+`),
    kind: 'aws_secret_key',
    context: (s) => `aws_secret_access_key = ${s}`,
  },
  {
    name: 'JWT',
    secret: `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(`{"sub":"${rand(10)}","iat":1700000000}`)}.${rand(43)}`,
    kind: 'jwt',
  },
  { name: 'Bearer credential', secret: rand(32), kind: 'bearer', context: (s) => `Authorization: Bearer ${s}` },
  { name: 'Basic credential', secret: Buffer.from(`admin:${rand(12)}`).toString('base64'), kind: 'basic_auth', context: (s) => `Authorization: Basic ${s}` },
  { name: 'password in URL', secret: rand(14), kind: 'url_password', context: (s) => `connect to postgres://app:${s}@db.internal:5432/main now` },
  {
    name: 'PEM private key',
    secret: `-----BEGIN RSA PRIVATE KEY-----\n${rand(64)}\n${rand(64)}\n-----END RSA PRIVATE KEY-----`,
    kind: 'private_key',
  },
  { name: 'PEM block cut before its end line', secret: `-----BEGIN PRIVATE KEY-----\n${rand(64)}\n${rand(30)}`, kind: 'private_key' },
  { name: 'high-entropy value after key=', secret: rand(32), kind: 'secret', context: (s) => `GET /search?q=cats&api_key=${s}&n=3` },
  { name: 'token in JSON text', secret: rand(40), kind: 'secret', context: (s) => `{"access_token": "${s}", "expires": 3600}` },
  { name: 'password= marker', secret: 'hunter2', kind: 'password', context: (s) => `login user=bob password=${s} ok` },
  { name: 'Exa-style key (UUID) after x-api-key', secret: crypto.randomUUID(), kind: 'secret', context: (s) => `x-api-key: ${s}` },
  { name: 'npm token', secret: `npm_${rand(36)}`, kind: 'npm_token', context: (s) => `//registry.npmjs.org/:_authToken=${s}` },
  { name: 'npm token in prose', secret: `npm_${rand(36)}`, kind: 'npm_token' },
  { name: 'Hugging Face token (letters only)', secret: `hf_${rand(34, LETTERS).slice(0, 32)}Qz`, kind: 'huggingface_token' },
  { name: 'SendGrid key', secret: `SG.${rand(22)}.${rand(43)}`, kind: 'sendgrid_key' },
  { name: 'Twilio API key SID', secret: `SK${hex(32)}`, kind: 'twilio_key' },
  { name: 'Twilio account SID', secret: `AC${hex(32)}`, kind: 'twilio_key' },
  { name: 'Shopify access token', secret: `shpat_${hex(32)}`, kind: 'shopify_token' },
  { name: 'DigitalOcean token', secret: `dop_v1_${hex(64)}`, kind: 'digitalocean_token' },
  {
    name: 'Azure SAS signature, URL-encoded, removed whole',
    secret: `${rand(20)}%2B${rand(10)}%2F${rand(9)}%3D`,
    kind: 'azure_sas',
    context: (s) => `https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig=${s}`,
  },
  { name: 'session cookie', secret: rand(32, HEX), kind: 'session_cookie', context: (s) => `GET / sessionid=${s}; csrftoken=x` },
  { name: 'PHP session cookie', secret: rand(26, 'abcdefghijklmnopqrstuv0123456789'), kind: 'session_cookie', context: (s) => `PHPSESSID=${s}` },
  { name: 'Express session cookie (URL-encoded)', secret: `s%3A${rand(32)}.${rand(40)}`, kind: 'session_cookie', context: (s) => `connect.sid=${s}` },
  { name: 'Cookie header', secret: `sessionid=${rand(32, HEX)}; theme=dark`, kind: 'cookie', context: (s) => `headers:\nCookie: ${s}\nAccept: */*` },
  { name: 'Set-Cookie in JSON text', secret: `session=${rand(40)}; Path=/; HttpOnly`, kind: 'cookie', context: (s) => `{"set-cookie": "${s}"}` },
  { name: 'authorization without Bearer (scheme Token)', secret: `Token ${rand(40, HEX)}`, kind: 'authorization', context: (s) => `Authorization: ${s}` },
  { name: 'authorization as a bare key', secret: rand(24), kind: 'authorization', context: (s) => `{"authorization": "${s}"}` },
  { name: 'digit-only token under a secret marker', secret: '12345678901234567890', kind: 'secret', context: (s) => `token=${s}` },
  { name: 'digit-only key in JSON text', secret: '987654321012', kind: 'secret', context: (s) => `{"api_key": "${s}"}` },
];

describe('redaction corpus: every listed format is removed, by value shape, anywhere in a string', () => {
  for (const c of corpus) {
    it(c.name, () => {
      const text = c.context ? c.context(c.secret) : `before ${c.secret} after`;
      const out = redact(text) as string;
      expect(out).not.toContain(c.secret);
      expect(out).toContain(`[REDACTED:${c.kind}]`);
    });
  }

  it('redacts URL-encoded password and key markers in logged URLs', () => {
    const pw = rand(12);
    const out = redact(`https://example.com/my-password%3D${pw}-manual/1?api_key%3d${rand(24)}`) as string;
    expect(out).not.toContain(pw);
    expect(out).toContain('password%3D[REDACTED:password]');
    expect(redact('https://example.com/wiki/Key%3Avalue_pairs')).toBe('https://example.com/wiki/Key%3Avalue_pairs');
  });

  it('redacts inside nested objects, arrays and error-like values', () => {
    const key = `sk-${rand(40)}`;
    const out = JSON.stringify(redact({ a: [{ b: `x ${key}` }], err: new Error(`failed with ${key}`) }));
    expect(out).not.toContain(key);
    expect(out).toContain('[REDACTED:openai_key]');
  });
});

describe('negative cases survive unredacted', () => {
  const survivors = [
    'The quick brown fox jumps over the lazy dog.',
    'Basic understanding of tokens and keys is required.',
    'Use the primary key of the table; the token count was 1234.',
    'session 550e8400-e29b-41d4-a716-446655440000 started',
    'trace id 4bf92f3577b34da6a3ce929d0e0e4736, span 00f067aa0ba902b7',
    'Fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8 yesterday.',
    'max_tokens=1024 temperature=0.2',
    'https://example.com/path?page=2&sort=desc',
    'author: Jane Doe',
    'email me at jane@example.com or call +1 415 555 0100',
    'task-runner is a package; ask-me-anything too',
    'key: value',
    'id=user_12345',
    // Near-misses of the formats above.
    'call hf_hub_download() from huggingface_hub; shelf_hf_storage is a table',
    'hf_transfer speeds up downloads; set HF_HUB_ENABLE_HF_TRANSFER=1',
    'npm_config_cache=/tmp/npm npm_package_version=1.2.3 npm_lifecycle_event=test',
    'Singapore: see SG.com or SG.1 for details',
    'SKU 12345 and ACME corp; ACCOUNT_SID is configured',
    'shop_id=12 shpat_ is the prefix of Shopify tokens',
    'dop_v1_ prefixes DigitalOcean tokens; do_v1 is not one',
    'https://example.com/img?sig=abc&w=100',
    'signature: see below',
    'sessionid=42 session=weekly-planning sessions=3 session_count=12345678',
    'sessionId: 550e8400-e29b-41d4-a716-446655440000',
    'Cookie: a small baked good',
    'authorization: required for admins',
    'Authorization: pending',
    'token=123456 key=1234 pin: 0000',
    'tokens: 123456789012345 max_tokens=4096',
    'order id=12345678901234567890',
  ];
  for (const text of survivors) {
    it(JSON.stringify(text), () => {
      expect(redact(text)).toBe(text);
    });
  }

  it('ordinary object values and ids are kept', () => {
    const value = { id: '550e8400-e29b-41d4-a716-446655440000', query: 'weather in Paris', tokens: 12, usage: { input_tokens: 5 } };
    expect(redact(value)).toEqual(value);
  });
});

describe('redaction by key', () => {
  it('is recursive, case- and separator-insensitive', () => {
    const out = redact({
      API_KEY: 'a',
      apiKey: 'b',
      'x-api-key': 'c',
      nested: { Password: 'p', list: [{ client_secret: 's' }, { 'Set-Cookie': 'c=1' }] },
      headers: { Authorization: 'anything', cookie: 'x' },
      openai_api_key: 'suffix match',
      db: { connection: { passwd: 1234 } },
      credentials: { user: 'u', pass: 'p' },
    });
    expect(out).toEqual({
      API_KEY: '[REDACTED:apikey]',
      apiKey: '[REDACTED:apikey]',
      'x-api-key': '[REDACTED:xapikey]',
      nested: { Password: '[REDACTED:password]', list: [{ client_secret: '[REDACTED:clientsecret]' }, { 'Set-Cookie': '[REDACTED:setcookie]' }] },
      headers: { Authorization: '[REDACTED:authorization]', cookie: '[REDACTED:cookie]' },
      openai_api_key: '[REDACTED:apikey]',
      db: { connection: { passwd: '[REDACTED:passwd]' } },
      credentials: '[REDACTED:credentials]',
    });
  });

  it('covers every key the issue lists', () => {
    const keys = ['api_key', 'apikey', 'token', 'access_token', 'refresh_token', 'secret', 'client_secret', 'password', 'passwd',
      'authorization', 'auth', 'cookie', 'set-cookie', 'session', 'credential', 'private_key', 'x-api-key'];
    const r = new Redactor();
    for (const k of keys) expect(r.sensitiveKey(k), k).not.toBeNull();
    for (const k of ['max_tokens', 'input_tokens', 'author', 'sessionId', 'keyboard', 'id', 'name']) expect(r.sensitiveKey(k), k).toBeNull();
  });

  it('takes extra keys and patterns, and validates them', () => {
    const r = createRedactor({ keys: ['Customer-SSN'], patterns: [{ name: 'ticket', pattern: /TICKET-\d{4}/ }] });
    expect(r.redact({ customer_ssn: '123', note: 'see TICKET-1234 and TICKET-9999' })).toEqual({
      customer_ssn: '[REDACTED:customerssn]',
      note: 'see [REDACTED:ticket] and [REDACTED:ticket]',
    });
    expect(() => createRedactor({ keys: [''] })).toThrow(InvalidOptionsError);
    expect(() => createRedactor({ patterns: [{ name: 'x', pattern: 'nope' as unknown as RegExp }] })).toThrow(/patterns\[0\]|name/);
    expect(() => createRedactor({ pii: 'yes' as unknown as boolean })).toThrow(InvalidOptionsError);
    expect(() => createRedactor({ bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => createRedactor({ patterns: 'x' as never })).toThrow(InvalidOptionsError);
  });

  it('normalizes keys', () => {
    expect(normalizeKey('X-Api_Key.v2 ')).toBe('xapikeyv2');
  });
});

describe('keys: long keys, secrets used as keys', () => {
  it('decides on the whole key, however long, and cuts it keeping the tail', () => {
    const long = `${'config.'.repeat(40)}db.password`;
    const out = redact({ [long]: 'hunter2', [`${'x'.repeat(300)}_api_key`]: 42 }) as Record<string, SafeJson>;
    expect(JSON.stringify(out)).not.toContain('hunter2');
    expect(JSON.stringify(out)).not.toContain('42');
    const keys = Object.keys(out);
    expect(keys.every((k) => k.length <= MAX_NAME_CHARS)).toBe(true);
    expect(keys[0]).toMatch(/^config\.config.*…\[truncated \d+ chars\]….*db\.password$/);
    expect(out[keys[0]!]).toBe('[REDACTED:password]');
    expect(out[keys[1]!]).toBe('[REDACTED:apikey]');
  });

  it('redacts a secret used as a key, keeping its value', () => {
    const key = `sk-${rand(40)}`;
    const r = new Redactor();
    const out = r.redact({ [key]: 'user-1', nested: { [`ghp_${rand(36)}`]: { ok: true } } });
    expect(JSON.stringify(out)).not.toContain(key);
    expect(out).toEqual({ '[REDACTED:openai_key]': 'user-1', nested: { '[REDACTED:github_token]': { ok: true } } });
    expect(r.keyName(key)).toBe('[REDACTED:openai_key]');
    expect(r.keyName('gen_ai.request.model')).toBe('gen_ai.request.model');
  });

  it('cutKey keeps short keys, never splits a surrogate pair, and bounds the result', () => {
    expect(cutKey('short', 200)).toBe('short');
    for (let n = 150; n < 260; n++) {
      const key = '😀'.repeat(n);
      const cut = cutKey(key, 200);
      expect(cut.length).toBeLessThanOrEqual(200);
      expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });
});

describe('PII mode', () => {
  it('is off by default and redacts e-mails and phone numbers when on', () => {
    const text = 'write to jane.doe@example.com or +1 (415) 555-0100; order 12345 costs 19.99';
    expect(redact(text)).toBe(text);
    expect(createRedactor({ pii: true }).redact(text)).toBe('write to [REDACTED:email] or [REDACTED:phone]; order 12345 costs 19.99');
  });
});

describe('robustness', () => {
  it('never throws on hostile values and keeps cycles finite', () => {
    const cyclic: Record<string, unknown> = { token: 'x' };
    cyclic.self = cyclic;
    expect(redact(cyclic)).toEqual({ token: '[REDACTED:token]', self: '[Circular]' });
    expect(redact(10n)).toBe('10n');
    expect(redact(undefined)).toBeNull();
  });

  it('does not re-redact its own markers and handles a Basic that does not decode to user:pass', () => {
    const once = redact('password=[REDACTED:password]');
    expect(once).toBe('password=[REDACTED:password]');
    expect(redact('Basic QUJDREVGR0hJSktM')).toBe('Basic QUJDREVGR0hJSktM');
  });
});
