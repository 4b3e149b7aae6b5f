/**
 * The built-in `read_url` tool: fetches a web page and returns readable text, with SSRF protection.
 *
 * Every hop is checked: the URL (http/https, no credentials, no metadata host names), then every address the host
 * resolves to. The connection is made to the address that was checked — the check runs inside the socket's
 * `lookup`, so there is no window for DNS rebinding between check and connect. Redirects are followed by hand, each
 * re-checked, up to a maximum. Bodies are capped (after decompression), content types are allow-listed, and one
 * deadline covers the whole fetch.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { z } from 'zod';
import { AgentexError, toError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { readHtml } from './html.js';
import { METADATA_HOSTNAMES, addressPolicy, normalizeHost } from './ssrf.js';
import type { AddressPolicy } from './ssrf.js';
import { defineTool, toolError, toolOk } from './types.js';
import type { Tool } from './types.js';

/** Default body cap (bytes, after decompression). */
export const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;
/** Default deadline for the whole fetch, redirects included (ms). */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;
/** Default redirect limit. */
export const DEFAULT_MAX_REDIRECTS = 5;
/** Default cap on returned text (characters). */
export const DEFAULT_MAX_CHARS = 20_000;
/** Content types read by default. */
export const DEFAULT_CONTENT_TYPES: readonly string[] = [
  'text/html',
  'application/xhtml+xml',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/json',
  'application/xml',
  'text/xml',
];

export type ReadUrlErrorCode =
  | 'INVALID_URL'
  | 'BLOCKED_ADDRESS'
  | 'DNS_ERROR'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'NETWORK_ERROR'
  | 'TOO_MANY_REDIRECTS'
  | 'HTTP_ERROR'
  | 'UNSUPPORTED_CONTENT_TYPE'
  | 'TOO_LARGE';

/** Why a page could not be read. `retryable` says whether trying again later may help. */
export class ReadUrlError extends AgentexError {
  readonly fault: 'caller' | 'system';

  constructor(
    readonly code: ReadUrlErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.fault = retryable || code === 'NETWORK_ERROR' ? 'system' : 'caller';
    this.status = options?.status;
  }

  /** HTTP status of an `HTTP_ERROR`. */
  readonly status: number | undefined;
}

export function isReadUrlError(err: unknown): err is ReadUrlError {
  return err instanceof ReadUrlError;
}

/** Resolves a host name to every address (like `dns.lookup(host, { all: true })`). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** Options of {@link readUrl} and {@link readUrlTool}. */
export interface ReadUrlOptions {
  /**
   * Allowlist: IPs/CIDRs (`127.0.0.1`, `10.0.0.0/8`) that may be reached although private, and host names
   * (`intranet.local`, `*.corp.example`) that may resolve anywhere. Default none.
   */
  allow?: readonly string[];
  /** Body cap in bytes after decompression (default {@link DEFAULT_MAX_BYTES}). */
  maxBytes?: number;
  /** Deadline for the whole fetch (default {@link DEFAULT_READ_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Redirects followed (default {@link DEFAULT_MAX_REDIRECTS}). */
  maxRedirects?: number;
  /** Returned text cap in characters (default {@link DEFAULT_MAX_CHARS}). */
  maxChars?: number;
  /** MIME types accepted (default {@link DEFAULT_CONTENT_TYPES}). */
  allowedContentTypes?: readonly string[];
  /** `User-Agent` header (default `AgentEx-read_url/1`). */
  userAgent?: string;
  /** Host name resolver (default `dns.lookup` with `all: true`); inject one to test or to use your own DNS. */
  resolve?: Resolver;
}

/** What a successful read returns. */
export interface ReadUrlData {
  /** The final URL, after redirects. */
  url: string;
  status: number;
  contentType: string;
  title?: string;
  text: string;
  /** Whether `text` was cut at `maxChars`. */
  truncated: boolean;
  /** Body size in bytes (decompressed). */
  bytes: number;
  redirects: number;
}

interface Resolved {
  policy: AddressPolicy;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  maxChars: number;
  types: readonly string[];
  userAgent: string;
  resolve: Resolver;
}

function resolveOptions(where: string, options: ReadUrlOptions): Resolved {
  assertKnownKeys(where, options, ['allow', 'maxBytes', 'timeoutMs', 'maxRedirects', 'maxChars', 'allowedContentTypes', 'userAgent', 'resolve']);
  const types = options.allowedContentTypes ?? DEFAULT_CONTENT_TYPES;
  if (!Array.isArray(types) || types.length === 0) assertString(where, 'allowedContentTypes', undefined);
  return {
    policy: addressPolicy(options.allow ?? [], `${where}.allow`),
    maxBytes: assertNumber(where, 'maxBytes', options.maxBytes ?? DEFAULT_MAX_BYTES, { integer: true, min: 1 }),
    timeoutMs: assertNumber(where, 'timeoutMs', options.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS, { min: 1 }),
    maxRedirects: assertNumber(where, 'maxRedirects', options.maxRedirects ?? DEFAULT_MAX_REDIRECTS, { integer: true, min: 0, max: 20 }),
    maxChars: assertNumber(where, 'maxChars', options.maxChars ?? DEFAULT_MAX_CHARS, { integer: true, min: 1 }),
    types: types.map((t, i) => assertString(where, `allowedContentTypes[${i}]`, t).toLowerCase()),
    userAgent: assertString(where, 'userAgent', options.userAgent ?? 'AgentEx-read_url/1'),
    resolve: options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true })),
  };
}

/** Checks a URL before any connection. @throws ReadUrlError INVALID_URL or BLOCKED_ADDRESS. */
function checkUrl(raw: string, cfg: Resolved): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ReadUrlError('INVALID_URL', `Not a valid absolute URL: ${JSON.stringify(raw.slice(0, 200))}`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ReadUrlError('INVALID_URL', `Only http and https URLs can be read, got ${url.protocol}`, false);
  }
  if (url.username !== '' || url.password !== '') throw new ReadUrlError('INVALID_URL', 'URLs with credentials are not allowed', false);
  const host = normalizeHost(url.hostname);
  if (cfg.policy.hostAllowed(host)) return url;
  if (METADATA_HOSTNAMES.has(host)) throw new ReadUrlError('BLOCKED_ADDRESS', `Host ${host} is a cloud metadata service`, false);
  // The WHATWG parser has already turned 0x7f.1, 2130706433 and friends into dotted quads.
  if (isIP(host) !== 0) {
    const reason = cfg.policy.check(host);
    if (reason) throw new ReadUrlError('BLOCKED_ADDRESS', `Address ${host} is not allowed (${reason})`, false);
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A socket `lookup` that resolves, checks every address, and hands only checked addresses to the connection. */
function guardedLookup(cfg: Resolved, hostAllowed: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    cfg
      .resolve(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw Object.assign(new Error(`No addresses for ${hostname}`), { code: 'ENOTFOUND' });
        if (!hostAllowed) {
          for (const a of addresses) {
            const reason = cfg.policy.check(a.address);
            // One bad address blocks the host: otherwise a resolver returning [public, private] could be used to pivot.
            if (reason) throw new ReadUrlError('BLOCKED_ADDRESS', `Host ${hostname} resolves to ${a.address}, which is not allowed (${reason})`, false);
          }
        }
        const family = options.family === 6 || options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 'IPv4' ? 4 : 0;
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        if (usable.length === 0) throw Object.assign(new Error(`No IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' });
        if (options.all) callback(null, [...usable]);
        else callback(null, usable[0]!.address, usable[0]!.family);
      })
      .catch((err: unknown) => callback(toError(err) as NodeJS.ErrnoException, ''));
  };
}

interface Hop {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

function request(url: URL, cfg: Resolved, signal: AbortSignal): Promise<Hop> {
  const host = normalizeHost(url.hostname);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: 'GET',
        agent: false,
        signal,
        lookup: guardedLookup(cfg, cfg.policy.hostAllowed(host)),
        headers: {
          'user-agent': cfg.userAgent,
          accept: `${cfg.types.join(', ')};q=0.9, */*;q=0.1`,
          'accept-encoding': 'gzip, deflate, br',
        },
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    req.once('error', reject);
    req.end();
  });
}

async function readBody(hop: Hop, cfg: Resolved): Promise<Buffer> {
  const declared = Number(hop.headers['content-length']);
  const encoding = String(hop.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (encoding === 'identity' && Number.isFinite(declared) && declared > cfg.maxBytes) {
    hop.body.destroy();
    throw new ReadUrlError('TOO_LARGE', `Page is ${declared} bytes; the limit is ${cfg.maxBytes}`, false);
  }
  let stream: Readable = hop.body;
  if (encoding === 'gzip' || encoding === 'x-gzip') stream = hop.body.pipe(zlib.createGunzip());
  else if (encoding === 'deflate') stream = hop.body.pipe(zlib.createInflate());
  else if (encoding === 'br') stream = hop.body.pipe(zlib.createBrotliDecompress());
  else if (encoding !== 'identity') {
    hop.body.destroy();
    throw new ReadUrlError('UNSUPPORTED_CONTENT_TYPE', `Unsupported content encoding ${JSON.stringify(encoding)}`, false);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > cfg.maxBytes) throw new ReadUrlError('TOO_LARGE', `Page exceeds the limit of ${cfg.maxBytes} bytes`, false);
      chunks.push(chunk);
    }
  } finally {
    if (size > cfg.maxBytes) {
      hop.body.destroy();
      stream.destroy();
    }
  }
  return Buffer.concat(chunks);
}

function decode(buffer: Buffer, contentType: string): string {
  const charset = /charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(buffer);
  } catch {
    return new TextDecoder('utf-8').decode(buffer);
  }
}

function classify(err: unknown, signal: AbortSignal, deadline: AbortSignal, cfg: Resolved): ReadUrlError {
  if (err instanceof ReadUrlError) return err;
  if (deadline.aborted && !signal.aborted) return new ReadUrlError('TIMEOUT', `Reading the page took longer than ${cfg.timeoutMs} ms`, true);
  if (signal.aborted) return new ReadUrlError('CANCELLED', 'Reading the page was cancelled', false, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME') return new ReadUrlError('DNS_ERROR', 'Host name not found', false);
  if (code === 'EAI_AGAIN') return new ReadUrlError('DNS_ERROR', 'DNS lookup failed temporarily', true);
  if (typeof code === 'string' && code.startsWith('Z_')) return new ReadUrlError('NETWORK_ERROR', 'Page body could not be decompressed', false);
  return new ReadUrlError('NETWORK_ERROR', `Network error while reading the page${typeof code === 'string' ? ` (${code})` : ''}`, true, { cause: err });
}

/**
 * Fetches `rawUrl` and returns readable text (HTML stripped to text; other allowed types as-is).
 * @throws ReadUrlError with a code: INVALID_URL, BLOCKED_ADDRESS, DNS_ERROR, TIMEOUT, CANCELLED, NETWORK_ERROR,
 *   TOO_MANY_REDIRECTS, HTTP_ERROR, UNSUPPORTED_CONTENT_TYPE, TOO_LARGE.
 * @throws InvalidOptionsError on bad options.
 */
export async function readUrl(rawUrl: string, options: ReadUrlOptions & { signal?: AbortSignal } = {}): Promise<ReadUrlData> {
  const { signal: callerSignal, ...rest } = options;
  return fetchReadable(rawUrl, resolveOptions('readUrl', rest), callerSignal ?? new AbortController().signal);
}

async function fetchReadable(rawUrl: string, cfg: Resolved, callerSignal: AbortSignal): Promise<ReadUrlData> {
  const deadline = AbortSignal.timeout(cfg.timeoutMs);
  const signal = AbortSignal.any([callerSignal, deadline]);
  let url = checkUrl(rawUrl, cfg);
  let redirects = 0;
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const hop = await request(url, cfg, signal);
      const location = hop.headers.location;
      if ([301, 302, 303, 307, 308].includes(hop.status) && typeof location === 'string') {
        hop.body.resume();
        if (redirects >= cfg.maxRedirects) {
          throw new ReadUrlError('TOO_MANY_REDIRECTS', `More than ${cfg.maxRedirects} redirects`, false);
        }
        redirects++;
        let next: string;
        try {
          next = new URL(location, url).toString();
        } catch {
          throw new ReadUrlError('INVALID_URL', 'Redirect to an invalid URL', false);
        }
        url = checkUrl(next, cfg);
        continue;
      }
      if (hop.status < 200 || hop.status >= 300) {
        hop.body.resume();
        const retryable = hop.status === 408 || hop.status === 429 || hop.status >= 500;
        throw new ReadUrlError('HTTP_ERROR', `The server answered HTTP ${hop.status}`, retryable, { status: hop.status });
      }
      const contentType = String(hop.headers['content-type'] ?? '');
      const mime = contentType.split(';')[0]!.trim().toLowerCase();
      if (!cfg.types.includes(mime)) {
        hop.body.destroy();
        throw new ReadUrlError('UNSUPPORTED_CONTENT_TYPE', `Content type ${JSON.stringify(mime || '(none)')} is not readable (allowed: ${cfg.types.join(', ')})`, false);
      }
      const buffer = await readBody(hop, cfg);
      const raw = decode(buffer, contentType);
      const isHtml = mime === 'text/html' || mime === 'application/xhtml+xml';
      const doc = isHtml ? readHtml(raw) : { text: raw.trim(), title: undefined, truncated: false };
      const full = doc.text;
      const title = doc.title;
      return {
        url: url.toString(),
        status: hop.status,
        contentType: mime,
        ...(title !== undefined ? { title } : {}),
        text: full.length > cfg.maxChars ? full.slice(0, cfg.maxChars) : full,
        truncated: full.length > cfg.maxChars || doc.truncated,
        bytes: buffer.length,
        redirects,
      };
    }
  } catch (err) {
    throw classify(err, callerSignal, deadline, cfg);
  }
}

const input = z.object({
  url: z.string().min(1).max(4096).describe('Absolute http(s) URL of the page to read'),
});

/**
 * Creates the `read_url` tool: `{ url }` → {@link ReadUrlData}, or an error result whose code is a
 * {@link ReadUrlErrorCode} (retryable for timeouts, network errors, 408/429/5xx).
 * @throws InvalidOptionsError on bad options.
 * @example
 * const reader = readUrlTool({ allow: ['intranet.example.com'], maxBytes: 1_000_000 });
 */
export function readUrlTool(options: ReadUrlOptions = {}): Tool<z.infer<typeof input>, ReadUrlData> {
  const cfg = resolveOptions('readUrlTool', options);
  return defineTool({
    name: 'read_url',
    description: 'Fetches a public web page and returns its readable text (title, text, final URL). Private and internal addresses are refused.',
    input,
    timeoutMs: cfg.timeoutMs + 1_000,
    async execute({ url }, { signal }) {
      try {
        return toolOk(await fetchReadable(url, cfg, signal));
      } catch (err) {
        const e = err instanceof ReadUrlError ? err : classify(err, signal, signal, cfg);
        return toolError(e.code, e.message, e.retryable);
      }
    },
  });
}
