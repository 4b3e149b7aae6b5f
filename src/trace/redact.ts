/**
 * Secret redaction: truncation is not sanitization. Values are redacted by key (recursively, case- and
 * separator-insensitive) and by shape anywhere inside any string (provider API keys, JWTs, Bearer/Basic credentials,
 * passwords in URLs, PEM private keys, high-entropy values after `key=`/`token=`-like markers), before any cut and
 * before anything leaves the process. A replacement says what was removed: `[REDACTED:jwt]`.
 *
 * Cost: a string first goes through one cheap trigger scan; only strings containing a trigger (`sk-`, `eyJ`,
 * `Bearer`, `://`, `key`, `token`...) run the shape patterns.
 */
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys } from '../common/options.js';
import { cutKey, MAX_NAME_CHARS } from './bounds.js';
import { safeValue, type SafeJson } from './safeValue.js';

/** Keys whose values are always redacted (normalized: lower case, no `-`, `_`, `.` or spaces). */
export const SENSITIVE_KEYS: readonly string[] = [
  'apikey', 'xapikey', 'token', 'accesstoken', 'refreshtoken', 'idtoken', 'sessiontoken', 'secret', 'clientsecret',
  'secretkey', 'accesskey', 'password', 'passwd', 'pwd', 'passphrase', 'authorization', 'proxyauthorization', 'auth',
  'cookie', 'setcookie', 'session', 'credential', 'credentials', 'privatekey',
];
/** A key ending with one of these (normalized) is sensitive too: `openai_api_key`, `github-token`, `db.password`. */
export const SENSITIVE_KEY_SUFFIXES: readonly string[] = [
  'apikey', 'token', 'secret', 'secretkey', 'secretaccesskey', 'accesskey', 'password', 'passwd', 'passphrase',
  'privatekey', 'credential', 'credentials', 'authorization', 'cookie',
];
/** Normalized-key verdicts cached per redactor; beyond this many distinct keys the cache is cleared. */
export const KEY_CACHE_SIZE = 2048;
/** Keys longer than this are checked every time rather than cached (they are rare, and would bloat the cache). */
const MAX_CACHED_KEY_CHARS = 256;
/** Strings shorter than this cannot hold any recognised secret shape and skip the scan. */
export const MIN_SECRET_CHARS = 10;

/** A user-supplied shape to redact: every match is replaced by `[REDACTED:<name>]`. */
export interface RedactionPattern {
  name: string;
  pattern: RegExp;
}

/** What a key turns into: the rule redacting its value (null: not sensitive), and the key text that may be stored. */
export interface KeyVerdict {
  readonly rule: string | null;
  readonly name: string;
}

/** Options of {@link createRedactor}. */
export interface RedactorOptions {
  /** Extra sensitive keys (matched like the built-in ones: case- and separator-insensitive, exact). */
  keys?: readonly string[];
  /** Extra value shapes. They run on every string (they have no cheap trigger). */
  patterns?: readonly RedactionPattern[];
  /** Also redact e-mail addresses and phone numbers. Default false. */
  pii?: boolean;
}

interface Rule {
  kind: string;
  re: RegExp;
  /** Index of a capture group kept in front of the replacement (a marker such as `Bearer ` or `password=`). */
  keep?: number;
  /** Extra check on the secret part; a false verdict keeps the match as is. */
  accept?: (secret: string) => boolean;
}

const TOKEN = 'A-Za-z0-9_\\-';

function hasEntropy(s: string): boolean {
  if (s.length < 16) return false;
  let digits = 0;
  let letters = 0;
  const seen = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letters++;
    seen.set(c, (seen.get(c) ?? 0) + 1);
  }
  if (digits === 0 || letters === 0) return false;
  let bits = 0;
  for (const n of seen.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits >= 3;
}

/** Letters of both cases, or letters and digits: a token, not a lower-case identifier such as `hf_hub_download`. */
function looksRandom(s: string): boolean {
  return (/[a-z]/.test(s) && /[A-Z]/.test(s)) || (/[A-Za-z]/.test(s) && /\d/.test(s));
}

/** A credential after `authorization:` (scheme word optional): has a digit, or is long. `authorization: required` is prose. */
function looksLikeCredential(value: string): boolean {
  const credential = value.slice(value.search(/\S+$/));
  return /\d/.test(credential) || credential.length >= 20;
}

/** The value of a marker rule: random-looking text, or a long run of digits (`token=12345678901234567890`). */
function secretValue(s: string): boolean {
  return hasEntropy(s) || /^\d{12,}$/.test(s);
}

function looksLikeBasic(b64: string): boolean {
  if (!/[0-9+/=]/.test(b64) && b64 === b64.toLowerCase()) return false;
  try {
    const decoded = Buffer.from(b64, 'base64').toString('latin1');
    if (!decoded.includes(':')) return false;
    // Credentials decode to printable text; random base64 rarely does.
    for (let i = 0; i < decoded.length; i++) {
      const c = decoded.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** `ci('key')` → `[Kk][Ee][Yy]`: case-insensitive without the `i` flag, which makes V8's scans several times slower. */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`);
}

const PASSWORD_WORDS = `(?:${['password', 'passwd', 'pwd', 'passphrase'].map(ci).join('|')})`;
const SECRET_WORDS = `(?:${['key', 'token', 'secret', 'signature', 'sig', 'credential', 'auth'].map(ci).join('|')})`;
/** `:` or `=`, also URL-encoded (`%3A`, `%3D`) as in query strings and paths of logged URLs. */
const MARKER_TAIL = `["']?\\s*(?:[:=]|%3[aAdD])\\s*["']?`;
/** Session cookie names end like this (`sessionid`, `PHPSESSID`, `JSESSIONID`, `laravel_session`, `connect.sid`). */
const SESSION_WORDS = `(?:${ci('sess')}(?:${ci('ion')})?[_-]?(?:${ci('id')})?|${ci('connect')}\\.${ci('sid')})`;
/** A value character of a query string or cookie, or a %-escape: a URL-encoded secret is matched whole. */
const URL_VALUE = '(?:[A-Za-z0-9_\\-./+=~]|%[0-9A-Fa-f]{2})';

/** The built-in shapes, most specific first (a PEM block or a JWT before the generic marker rule). */
const BUILTIN_RULES: readonly Rule[] = [
  {
    kind: 'private_key',
    re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  { kind: 'jwt', re: new RegExp(`\\beyJ[${TOKEN}]{5,}\\.[${TOKEN}]{5,}\\.[${TOKEN}]*`, 'g') },
  { kind: 'anthropic_key', re: new RegExp(`\\bsk-ant-[${TOKEN}]{20,}`, 'g') },
  { kind: 'openai_key', re: new RegExp(`\\bsk-(?:proj-|svcacct-|admin-)?[${TOKEN}]{20,}`, 'g') },
  { kind: 'tavily_key', re: new RegExp(`\\btvly-[${TOKEN}]{20,}`, 'g') },
  { kind: 'github_token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g },
  { kind: 'gitlab_token', re: new RegExp(`\\bgl(?:pat|dt|ptt|rt|oas|cbt|imt|ft|agent|soat)-[${TOKEN}]{20,}`, 'g') },
  { kind: 'slack_token', re: /\bxox[abposre]-[A-Za-z0-9-]{10,}|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/g },
  { kind: 'stripe_key', re: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}/g },
  { kind: 'google_api_key', re: new RegExp(`\\bAIza[${TOKEN}]{35}`, 'g') },
  { kind: 'google_oauth_token', re: new RegExp(`\\bya29\\.[${TOKEN}.]{20,}`, 'g') },
  { kind: 'aws_access_key_id', re: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b/g },
  {
    kind: 'aws_secret_key',
    re: new RegExp(`(${ci('aws')}[A-Za-z0-9_. -]{0,24}?(?:${ci('secret')}|${ci('key')})[A-Za-z0-9_. -]{0,24}?${MARKER_TAIL})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])`, 'g'),
    keep: 1,
  },
  { kind: 'bearer', re: new RegExp(`\\b(${ci('bearer')}\\s+)[A-Za-z0-9\\-._~+/]{8,}=*`, 'g'), keep: 1 },
  { kind: 'basic_auth', re: new RegExp(`\\b(${ci('basic')}\\s+)([A-Za-z0-9+/]{8,}={0,2})`, 'g'), keep: 1, accept: looksLikeBasic },
  { kind: 'url_password', re: /(\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s:/?#@"'<>]+:)[^\s/?#@"'<>]+(?=@)/g, keep: 1 },
  { kind: 'npm_token', re: /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g },
  { kind: 'huggingface_token', re: /\bhf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])/g, accept: looksRandom },
  { kind: 'sendgrid_key', re: new RegExp(`\\bSG\\.[${TOKEN}]{16,32}\\.[${TOKEN}]{16,64}`, 'g') },
  { kind: 'twilio_key', re: /\b(?:SK|AC)[0-9a-fA-F]{32}(?![A-Za-z0-9_])/g },
  { kind: 'shopify_token', re: /\bshp(?:at|ca|pa|ss)_[A-Fa-f0-9]{32}(?![A-Za-z0-9_])/g },
  { kind: 'digitalocean_token', re: /\bdo[por]_v1_[a-f0-9]{64}(?![A-Za-z0-9_])/g },
  { kind: 'password', re: new RegExp(`(${PASSWORD_WORDS}${MARKER_TAIL})(?!\\[REDACTED)[^\\s"'&,;<>]+`, 'g'), keep: 1 },
  // Azure SAS and other signed URLs: the signature is base64, URL-encoded (`%2B`, `%3D`), removed whole.
  { kind: 'azure_sas', re: new RegExp(`((?<![A-Za-z0-9_])${ci('sig')}(?:=|%3[dD]))${URL_VALUE}{16,}`, 'g'), keep: 1 },
  // A cookie header line: every `name=value` pair after it is a credential bundle. Needs a `=` (prose has none).
  {
    kind: 'cookie',
    re: new RegExp(`((?:${ci('set-')})?${ci('cookie')}["']?\\s*:\\s*["']?)(?!\\[REDACTED)[^\\s=;,"'<>]+=[^\\r\\n"'<>]*`, 'g'),
    keep: 1,
  },
  // `sessionid=…` as in a cookie or a query string (the `=` form only: `sessionId: 42` in JSON is an identifier).
  {
    kind: 'session_cookie',
    re: new RegExp(`(${SESSION_WORDS}(?:=|%3[dD]))(?!\\[REDACTED)${URL_VALUE}{8,}`, 'g'),
    keep: 1,
    accept: (v) => /\d/.test(v) || v.length >= 24,
  },
  // An authorization value whatever its scheme (`Token …`, a bare key); `Bearer`/`Basic` ones are already replaced.
  {
    kind: 'authorization',
    re: new RegExp(`((?:${ci('proxy-')})?${ci('authorization')}${MARKER_TAIL})(?!\\[REDACTED)(?:[A-Za-z][A-Za-z0-9_-]{0,30}\\s+)?[^\\s"'&,;<>[\\]]{8,}`, 'g'),
    keep: 1,
    accept: looksLikeCredential,
  },
  { kind: 'secret', re: new RegExp(`(${SECRET_WORDS}${MARKER_TAIL})(${URL_VALUE}{12,})`, 'g'), keep: 1, accept: secretValue },
];

const PII_RULES: readonly Rule[] = [
  { kind: 'email', re: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g },
  {
    kind: 'phone',
    re: /(?<![\w.])\+?\(?\d[\d\s().-]{7,}\d(?![\w.])/g,
    accept: (s) => {
      const digits = s.replace(/\D/g, '').length;
      return digits >= 9 && digits <= 15;
    },
  },
];

/**
 * The cheap pre-check: a string without any of these can hold none of the built-in shapes. Kept as one regex so the
 * engine scans the string once with a first-character filter.
 */
const TRIGGER = new RegExp(
  [
    'sk[-_]', 'rk_', 'whsec_', 'tvly-', 'gh[pousr]_', 'github_pat_', 'gl[a-z]{2,5}-', 'xox[a-z]-', 'AIza', 'ya29\\.',
    'A[A-Z]{3}[A-Z0-9]{16}', 'eyJ', `${ci('bearer')}\\s`, `${ci('basic')}\\s`, ':\\/\\/', '-----BEGIN',
    'npm_', 'hf_', 'SG\\.', '[AS][CK][0-9a-fA-F]{32}', 'shp[a-z]{2}_', 'do[por]_v1_',
  ].join('|'),
);
/** Marker rules (`password=`, `api_key: `, `sessionid=`...) need a `:` or `=`; this regex only runs when one is present. */
const MARKER_TRIGGER = new RegExp(
  `(?:${PASSWORD_WORDS}|${SECRET_WORDS}|${ci('sess')}|${ci('cookie')}|${ci('sid')})[A-Za-z_.-]{0,30}${MARKER_TAIL}`,
);

function mayHoldSecret(text: string): boolean {
  return TRIGGER.test(text) || ((text.includes(':') || text.includes('=') || text.includes('%3')) && MARKER_TRIGGER.test(text));
}
const PII_TRIGGER = /@|\d{3}/;

/** Applies AgentEx's redaction rules; build one with {@link createRedactor} or use the default through {@link redact}. */
export class Redactor {
  private readonly keyCache = new Map<string, KeyVerdict>();
  private readonly extraKeys: ReadonlySet<string>;
  private readonly rules: readonly Rule[];
  private readonly extraRules: readonly Rule[];
  private readonly piiRules: readonly Rule[];

  constructor(options: RedactorOptions = {}, where = 'redactor') {
    assertKnownKeys(where, options, ['keys', 'patterns', 'pii']);
    const keys = options.keys ?? [];
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || normalizeKey(k) === '')) {
      throw new InvalidOptionsError(`${where}.keys`, 'Expected `keys` to be an array of non-empty strings');
    }
    this.extraKeys = new Set(keys.map(normalizeKey));
    const patterns = options.patterns ?? [];
    if (!Array.isArray(patterns)) throw new InvalidOptionsError(`${where}.patterns`, 'Expected `patterns` to be an array');
    this.extraRules = patterns.map((p: unknown, i) => {
      const { name, pattern } = (p ?? {}) as Partial<RedactionPattern>;
      if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,40}$/.test(name) || !(pattern instanceof RegExp)) {
        throw new InvalidOptionsError(
          `${where}.patterns[${i}]`,
          'Expected `{ name, pattern }` with a name of 1-40 letters, digits, `_.-` and a RegExp pattern',
        );
      }
      const flags = pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`;
      return { kind: name, re: new RegExp(pattern.source, flags) };
    });
    if (options.pii !== undefined && typeof options.pii !== 'boolean') {
      throw new InvalidOptionsError(`${where}.pii`, `Expected \`pii\` to be a boolean, got ${typeof options.pii}`);
    }
    this.piiRules = options.pii ? PII_RULES : [];
    this.rules = BUILTIN_RULES;
  }

  /**
   * The rule name when `key` names a secret (`[REDACTED:<name>]`), else null. Case- and separator-insensitive:
   * `API-Key`, `api_key` and `apiKey` are the same key. Decided on the whole key, however long.
   */
  sensitiveKey(key: string): string | null {
    return this.keyVerdict(key).rule;
  }

  /**
   * A key as it may be stored: any secret shape inside it redacted (a token used as an attribute key), then cut to
   * `MAX_NAME_CHARS` keeping its tail. Check {@link Redactor.sensitiveKey} on the original key, not on this.
   */
  keyName(key: string): string {
    return this.keyVerdict(key).name;
  }

  /** Both verdicts on a key, cached for keys of ordinary length. */
  keyVerdict(key: string): KeyVerdict {
    let verdict = this.keyCache.get(key);
    if (verdict !== undefined) return verdict;
    const norm = normalizeKey(key);
    let rule: string | null = null;
    if (SENSITIVE_KEYS.includes(norm) || this.extraKeys.has(norm)) rule = norm;
    else {
      for (const suffix of SENSITIVE_KEY_SUFFIXES) {
        if (norm.endsWith(suffix)) {
          rule = suffix;
          break;
        }
      }
    }
    verdict = { rule, name: cutKey(this.redactString(key), MAX_NAME_CHARS) };
    if (key.length <= MAX_CACHED_KEY_CHARS) {
      if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.clear();
      this.keyCache.set(key, verdict);
    }
    return verdict;
  }

  /** Redacts every recognised secret shape inside `text`. */
  redactString(text: string): string {
    if (text.length < MIN_SECRET_CHARS && this.extraRules.length === 0) return text;
    let out = text;
    if (mayHoldSecret(out)) out = applyRules(out, this.rules);
    if (this.extraRules.length > 0) out = applyRules(out, this.extraRules);
    if (this.piiRules.length > 0 && PII_TRIGGER.test(out)) out = applyRules(out, this.piiRules);
    return out;
  }

  /**
   * Redacts JSON-safe data (as made by `safeValue`), returning a copy; strings are then cut to `maxChars` when given.
   * Values under a sensitive key are replaced whole, whatever their type.
   */
  redactTree(value: SafeJson, maxChars = Infinity, cut?: (text: string, max: number) => string): SafeJson {
    if (typeof value === 'string') {
      const r = this.redactString(value);
      return cut && r.length > maxChars ? cut(r, maxChars) : r;
    }
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.redactTree(v, maxChars, cut));
    const out: { [key: string]: SafeJson } = {};
    for (const key of Object.keys(value)) {
      const { rule, name } = this.keyVerdict(key);
      out[name] = rule === null ? this.redactTree(value[key]!, maxChars, cut) : `[REDACTED:${rule}]`;
    }
    return out;
  }

  /** Redacts any value: it is first rendered JSON-safe (cycles, BigInt... never throw), then redacted by key and shape. */
  redact(value: unknown): SafeJson {
    if (typeof value === 'string') return this.redactString(value);
    return this.redactTree(safeValue(value, PUBLIC_RENDER_LIMITS));
  }
}

const PUBLIC_RENDER_LIMITS = { maxStringChars: 1_000_000, maxDepth: 32, maxItems: 10_000, maxNodes: 100_000 };

function applyRules(text: string, rules: readonly Rule[]): string {
  let out = text;
  for (const rule of rules) {
    rule.re.lastIndex = 0;
    if (!rule.re.test(out)) continue;
    rule.re.lastIndex = 0;
    out = out.replace(rule.re, (match: string, ...groups: unknown[]) => {
      const kept = rule.keep !== undefined ? ((groups[rule.keep - 1] as string | undefined) ?? '') : '';
      const secret = match.slice(kept.length);
      if (rule.accept && !rule.accept(secret)) return match;
      return `${kept}[REDACTED:${rule.kind}]`;
    });
  }
  return out;
}

/** Lower-cases and strips `-`, `_`, `.` and whitespace: the key identity used for key-based redaction. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '');
}

/**
 * Builds a {@link Redactor}.
 * @throws InvalidOptionsError for unknown options, non-string keys, or patterns that are not `{ name, pattern: RegExp }`.
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  return new Redactor(options);
}

const defaultRedactor = new Redactor();

/**
 * Applies AgentEx's default redaction rules to any value — the same rules traces get — so you can use them on your
 * own logs. Strings come back as strings; other values come back as a redacted JSON-safe copy (never mutated).
 * Never throws.
 * @example redact({ headers: { Authorization: 'Bearer abc...' }, note: 'key=...' })
 */
export function redact(value: unknown): SafeJson {
  return defaultRedactor.redact(value);
}
