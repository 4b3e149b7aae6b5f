/**
 * The cassette a `recordingProvider` writes and a `replayProvider` reads: its format, loading and
 * checking, and the conversions of requests and provider errors to and from their recorded form (secrets redacted).
 */
import { readFileSync } from 'node:fs';
import { AgentexError, toError } from '../../common/errors.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { MalformedResponseError, redactSecrets, transportErrorCode } from '../../common/http.js';
import type { CompletionRequest, CompletionResponse } from './types.js';

/** Cassette format version written and accepted. */
export const CASSETTE_VERSION = 1;

/** A request as stored in a cassette: the completion request without its signal. */
export type RecordedCompletionRequest = Omit<CompletionRequest, 'signal'>;

/** A provider failure as stored in a cassette; replay rethrows an equivalent error. */
export interface RecordedError {
  kind: 'http' | 'malformed' | 'network' | 'other';
  name: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  reason?: 'json' | 'shape' | 'too_large';
  code?: string;
  service?: string;
}

export interface CassetteExchange {
  request: RecordedCompletionRequest;
  response?: CompletionResponse;
  error?: RecordedError;
}

/** The JSON file a recording writes. */
export interface Cassette {
  version: typeof CASSETTE_VERSION;
  provider: string;
  model: string;
  recordedAt: string;
  exchanges: CassetteExchange[];
}

/** The cassette file is missing, unreadable, or not a cassette. Caller's fault. */
export class CassetteError extends AgentexError {
  readonly code = 'CASSETTE_INVALID';
  readonly fault = 'caller';
}

export function isCassetteError(err: unknown): err is CassetteError {
  return err instanceof CassetteError;
}

/** Deep-redacts every string in a JSON value. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === 'string') return redactSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, secrets)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = redactDeep(v, secrets);
    return out as T;
  }
  return value;
}

export function toRecordedRequest(req: CompletionRequest, secrets: readonly string[]): RecordedCompletionRequest {
  const { signal: _signal, ...rest } = req;
  return redactDeep(JSON.parse(JSON.stringify(rest)) as RecordedCompletionRequest, secrets);
}

export function toRecordedError(err: Error, secrets: readonly string[]): RecordedError {
  const message = redactSecrets(err.message, secrets);
  if (err instanceof HttpStatusError) {
    return { kind: 'http', name: err.name, message, status: err.status, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  if (err instanceof MalformedResponseError) return { kind: 'malformed', name: err.name, message, reason: err.reason, service: err.service };
  const code = transportErrorCode(err);
  if (err instanceof TypeError && code !== undefined) return { kind: 'network', name: err.name, message, code };
  return { kind: 'other', name: err.name, message };
}

export function fromRecordedError(e: RecordedError): Error {
  switch (e.kind) {
    case 'http':
      return new HttpStatusError(e.status ?? 500, { message: e.message, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) });
    case 'malformed':
      return new MalformedResponseError(e.service ?? 'replay', e.reason ?? 'json', 'replayed from cassette');
    case 'network':
      return new TypeError(e.message, { cause: Object.assign(new Error(`replayed ${e.code ?? 'network'} error`), { code: e.code }) });
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
  }
}


export function loadCassette(path: string): Cassette {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CassetteError(`Cannot read cassette ${path}: ${toError(err).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CassetteError(`Cassette ${path} is not valid JSON`);
  }
  return checkCassette(parsed, path);
}

export function checkCassette(value: unknown, label: string): Cassette {
  const c = value as Partial<Cassette> | null;
  if (!c || typeof c !== 'object' || c.version !== CASSETTE_VERSION || !Array.isArray(c.exchanges)) {
    throw new CassetteError(`${label} is not a version ${CASSETTE_VERSION} cassette (expected { version: ${CASSETTE_VERSION}, exchanges: [...] })`);
  }
  for (const [i, e] of c.exchanges.entries()) {
    if (!e || typeof e !== 'object' || !e.request || (!e.response && !e.error)) {
      throw new CassetteError(`${label}: exchange ${i} needs a request and a response or an error`);
    }
  }
  return c as Cassette;
}
