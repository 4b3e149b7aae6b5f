/**
 * The JSON-over-HTTP call every external API client here makes (model providers, search providers): plain `fetch`
 * with the caller's AbortSignal, typed errors for HTTP statuses and malformed bodies, secrets kept out of messages.
 *
 * Network failures are rethrown exactly as undici raises them so `isTransientError` can classify them: a refused or
 * reset connection before the response is `TypeError('fetch failed')`, a reset mid-body is `TypeError('terminated')`;
 * in both the code sits on `err.cause.code` (`ECONNRESET`, `ECONNREFUSED`, `UND_ERR_SOCKET`, `ENOTFOUND`, ...).
 * {@link transportErrorCode} digs it out. An aborted signal rejects with the signal's reason.
 */
import { AgentexError, InvalidOptionsError } from './errors.js';
import { HttpStatusError, parseRetryAfter } from './httpStatus.js';

/** Largest response body read from an API (bytes); a bigger body fails with {@link MalformedResponseError}. */
export const MAX_API_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Longest provider error text kept in an error message (characters). */
export const MAX_ERROR_DETAIL_CHARS = 300;

/**
 * A provider answered 2xx with a body that is not JSON, not the documented shape, or too large.
 * `retryable` is false: a server that returns garbage for a request usually does so again (a misconfigured base
 * URL, a captive proxy, an incompatible server), and model calls cost money. It is a `system` fault, so breakers
 * count it and fallbacks move on to the next provider.
 */
export class MalformedResponseError extends AgentexError {
  readonly code = 'MALFORMED_RESPONSE';
  readonly fault = 'system';
  readonly retryable = false;

  constructor(
    /** The service that answered, e.g. `anthropic`. */
    readonly service: string,
    /** What was wrong: `json` (not parseable), `shape` (unexpected structure), `too_large`. */
    readonly reason: 'json' | 'shape' | 'too_large',
    detail: string,
  ) {
    super(`${service} returned a malformed response (${reason}): ${detail}`);
  }
}

export function isMalformedResponseError(err: unknown): err is MalformedResponseError {
  return err instanceof MalformedResponseError;
}

/**
 * The system error code of a network failure (`ECONNRESET`, `ECONNREFUSED`, `UND_ERR_SOCKET`, `ETIMEDOUT`, ...),
 * found on the error or anywhere down its `cause` chain (undici nests it in `cause`). Undefined when there is none.
 */
export function transportErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = transportErrorCode(errors[0]);
      if (inner) return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Replaces each secret (and anything shaped like an API key) in `text` with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out.replace(/\b(sk-(?:ant-)?[A-Za-z0-9_-]{8,}|tvly-[A-Za-z0-9_-]{8,})/g, '[redacted]');
}

/** The human-readable message inside a provider's error body, whatever its format. */
function providerMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const candidates: unknown[] = [
    (b.error as Record<string, unknown> | undefined)?.message, // Anthropic, OpenAI
    b.error, // Exa
    (b.detail as Record<string, unknown> | undefined)?.error, // Tavily
    b.detail,
    b.message,
  ];
  return candidates.find((c): c is string => typeof c === 'string' && c !== '');
}

async function readCapped(res: Response, service: string, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new MalformedResponseError(service, 'too_large', `content-length ${declared} exceeds ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || value === undefined) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new MalformedResponseError(service, 'too_large', `body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Options of {@link postJson}. */
export interface PostJsonOptions {
  /** Service name used in error messages, e.g. `exa`. */
  service: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal?: AbortSignal;
  /** Values that must never appear in an error message (the API key). */
  secrets: readonly (string | undefined)[];
  /** Response size cap (default {@link MAX_API_RESPONSE_BYTES}). */
  maxBytes?: number;
}

/**
 * POSTs JSON and returns the parsed JSON body of a 2xx answer.
 * @throws HttpStatusError for a non-2xx status (message from the provider's error body, secrets redacted;
 *   `retryAfterMs` from `retry-after-ms` or `Retry-After`).
 * @throws MalformedResponseError when a 2xx body is not JSON or too large.
 * @throws the undici network error (`TypeError` with `cause.code`) or the signal's abort reason, unchanged.
 */
export async function postJson(options: PostJsonOptions): Promise<unknown> {
  const { service, url, signal, secrets } = options;
  const maxBytes = options.maxBytes ?? MAX_API_RESPONSE_BYTES;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    body: JSON.stringify(options.body),
    signal,
    redirect: 'error',
  });
  if (!res.ok) {
    let text = '';
    try {
      text = await readCapped(res, service, 64 * 1024);
    } catch {
      /* the status is what matters; a broken error body does not change it */
    }
    let detail: string | undefined;
    try {
      detail = providerMessage(JSON.parse(text));
    } catch {
      detail = text.trim() === '' ? undefined : text.trim();
    }
    const clean = detail === undefined ? '' : `: ${redactSecrets(detail, secrets).slice(0, MAX_ERROR_DETAIL_CHARS)}`;
    const retryAfterMsHeader = Number(res.headers.get('retry-after-ms'));
    const retryAfterMs =
      Number.isFinite(retryAfterMsHeader) && retryAfterMsHeader > 0 && res.headers.get('retry-after-ms') !== null
        ? Math.min(retryAfterMsHeader, 600_000)
        : parseRetryAfter(res.headers.get('retry-after'));
    throw new HttpStatusError(res.status, {
      message: `${service} HTTP ${res.status}${clean}`,
      url,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  let text: string;
  try {
    text = await readCapped(res, service, maxBytes);
  } catch (err) {
    throw normalizeBodyError(err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MalformedResponseError(service, 'json', `${text.length} characters that are not valid JSON`);
  }
}

/**
 * undici reports a connection dropped mid-body as `TypeError('terminated')` with the socket error as `cause`, while a
 * failure before the response is `TypeError('fetch failed')` with the same kind of cause. Both are the same network
 * failure; we rethrow the former in the latter's shape (flagged `duringBody`) so that one classifier rule
 * ("fetch failed" + transient cause code) covers both. Anything else is rethrown unchanged.
 */
function normalizeBodyError(err: unknown): unknown {
  if (err instanceof TypeError && err.message === 'terminated' && transportErrorCode(err.cause) !== undefined) {
    return Object.assign(new TypeError('fetch failed', { cause: err.cause }), { duringBody: true });
  }
  return err;
}

/** Joins a base URL and a path without doubling or dropping the slash. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Validates a base URL option (http or https, no credentials). */
export function assertBaseUrl(where: string, value: unknown): string {
  let u: URL;
  try {
    u = new URL(String(value));
  } catch {
    throw new InvalidOptionsError(`${where}.baseUrl`, `Expected \`baseUrl\` to be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '') {
    throw new InvalidOptionsError(`${where}.baseUrl`, `Expected \`baseUrl\` to be an http(s) URL without credentials, got ${JSON.stringify(`${u.protocol}//${u.host}${u.pathname}`)}`);
  }
  return String(value).replace(/\/+$/, '');
}
