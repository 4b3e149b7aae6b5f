/**
 * Validation and normalisation of everything a caller hands the store: trace ids, list filters, time ranges,
 * cursors and traces to write. Backends only ever see the normalised forms, always as bound parameters.
 */
import { ValidationError } from '../common/errors.js';
import { SPAN_KINDS, TRACE_STATUSES, type TraceRecord, type TraceStatus } from '../trace/model.js';
import type { ListTracesQuery, StatsQuery, TimeseriesQuery } from './TraceStore.js';

/** Default and largest page size of `list`. */
export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;
/** Longest user id or agent name accepted in a filter (and stored). */
export const MAX_FILTER_LENGTH = 256;
/** Most buckets a timeseries query may ask for. */
export const MAX_BUCKETS = 1000;
export const MIN_BUCKET_MS = 1000;

const HEX32 = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const LIST_KEYS = ['userId', 'status', 'agent', 'since', 'until', 'limit', 'cursor'];
const STATS_KEYS = ['userId', 'agent', 'since', 'until'];

/**
 * Normalises a trace id: 32 hex chars, or the 36-char UUID form (dashes removed); case-insensitive; never all zeros
 * (the W3C invalid id). @throws ValidationError naming `field`.
 */
export function normaliseTraceId(traceId: unknown, field = 'traceId'): string {
  if (typeof traceId === 'string' && (traceId.length === 32 || traceId.length === 36)) {
    const lower = traceId.toLowerCase();
    const hex = lower.length === 36 && UUID.test(lower) ? lower.replaceAll('-', '') : lower;
    if (HEX32.test(hex) && hex !== '0'.repeat(32)) return hex;
  }
  throw new ValidationError(field, `Expected \`${field}\` to be 32 hex characters or a UUID, got ${describe(traceId)}`);
}

/**
 * Latest time the store accepts, epoch ms: the end of year 9999, the last instant an ISO-8601 time with a four-digit
 * year can name. Every time parameter of the store and of the HTTP API is bounded to `[0, MAX_TIME_MS]`, so ranges,
 * bucket starts and their sums stay exact integers (far below 2^53) and a loop over a range always advances.
 */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** Longest digit string read as epoch ms (16 digits cover `MAX_TIME_MS`). */
const EPOCH_DIGITS = /^\d{1,16}$/;

/**
 * Parses a time into epoch ms within `[0, MAX_TIME_MS]`: an ISO-8601 string, a string of digits (epoch ms), a Date
 * or a number of epoch ms. The one parser of every time parameter, in the store and on the wire.
 * @throws ValidationError naming `field`.
 */
export function parseTime(value: unknown, field: string): number {
  let ms = Number.NaN;
  if (typeof value === 'number') ms = value;
  else if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'string' && value.length <= 40) {
    if (EPOCH_DIGITS.test(value)) ms = Number(value);
    else if (ISO_8601.test(value)) ms = Date.parse(value);
  }
  if (Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS) return ms;
  throw new ValidationError(
    field,
    `Expected \`${field}\` to be an ISO-8601 time, a Date or epoch ms between 0 (1970-01-01) and ${MAX_TIME_MS} (9999-12-31), got ${describe(value)}`,
  );
}

/** The text form a user id is stored and matched under. @throws ValidationError. */
export function userKey(userId: unknown, field = 'userId'): string {
  if (typeof userId === 'number' && Number.isFinite(userId)) return String(userId);
  if (typeof userId === 'string' && userId.length > 0 && userId.length <= MAX_FILTER_LENGTH) return userId;
  throw new ValidationError(
    field,
    `Expected \`${field}\` to be a finite number or a non-empty string of at most ${MAX_FILTER_LENGTH} characters, got ${describe(userId)}`,
  );
}

function agentName(agent: unknown, field = 'agent'): string {
  if (typeof agent === 'string' && agent.length > 0 && agent.length <= MAX_FILTER_LENGTH) return agent;
  throw new ValidationError(field, `Expected \`${field}\` to be a non-empty string of at most ${MAX_FILTER_LENGTH} characters, got ${describe(agent)}`);
}

function status(value: unknown, field = 'status'): TraceStatus {
  if (typeof value === 'string' && (TRACE_STATUSES as readonly string[]).includes(value)) return value as TraceStatus;
  throw new ValidationError(field, `Expected \`${field}\` to be one of ${TRACE_STATUSES.join(', ')}, got ${describe(value)}`);
}

/** A position in the newest-first order: the last trace of a page. */
export interface Cursor {
  startedAt: number;
  traceId: string;
}

/** Encodes a cursor as base64url of `startedAt:traceId`. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.startedAt}:${cursor.traceId}`, 'utf8').toString('base64url');
}

/** Decodes and validates a cursor. @throws ValidationError naming `cursor`. */
export function decodeCursor(value: unknown): Cursor {
  if (typeof value === 'string' && value.length > 0 && value.length <= 120 && /^[A-Za-z0-9_-]+$/.test(value)) {
    const text = Buffer.from(value, 'base64url').toString('utf8');
    const match = /^(\d+(?:\.\d+)?(?:e[+-]?\d+)?):([0-9a-f]{32})$/.exec(text);
    if (match) {
      const startedAt = Number(match[1]);
      if (Number.isFinite(startedAt)) return { startedAt, traceId: match[2]! };
    }
  }
  throw new ValidationError('cursor', 'Expected `cursor` to be a cursor returned by a previous page');
}

/** A validated list query. */
export interface NormalisedListQuery {
  userKey?: string | undefined;
  status?: TraceStatus | undefined;
  agent?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  limit: number;
  cursor?: Cursor | undefined;
}

function assertQueryKeys(query: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (query === undefined || query === null) return {};
  if (typeof query !== 'object' || Array.isArray(query)) {
    throw new ValidationError(what, `Expected the ${what} to be an object, got ${describe(query)}`);
  }
  for (const key of Object.keys(query)) {
    if (!allowed.includes(key)) throw new ValidationError(key, `Unknown filter \`${key}\` (known: ${allowed.join(', ')})`);
  }
  return query as Record<string, unknown>;
}

function parseLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_LIST_LIMIT;
  const n = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_LIST_LIMIT) return n;
  throw new ValidationError('limit', `Expected \`limit\` to be an integer between 1 and ${MAX_LIST_LIMIT}, got ${describe(value)}`);
}

/** Validates a list query. @throws ValidationError naming the first bad field. */
export function normaliseListQuery(query: ListTracesQuery | undefined): NormalisedListQuery {
  const q = assertQueryKeys(query, LIST_KEYS, 'list query');
  const out: NormalisedListQuery = { limit: parseLimit(q.limit) };
  if (q.userId !== undefined) out.userKey = userKey(q.userId);
  if (q.status !== undefined) out.status = status(q.status);
  if (q.agent !== undefined) out.agent = agentName(q.agent);
  if (q.since !== undefined) out.since = parseTime(q.since, 'since');
  if (q.until !== undefined) out.until = parseTime(q.until, 'until');
  if (out.since !== undefined && out.until !== undefined && out.until < out.since) {
    throw new ValidationError('until', 'Expected `until` to be at or after `since`');
  }
  if (q.cursor !== undefined) out.cursor = decodeCursor(q.cursor);
  return out;
}

/** A validated stats query. */
export interface NormalisedStatsQuery {
  since: number;
  until: number;
  userKey?: string | undefined;
  agent?: string | undefined;
}

/** Validates a stats query; `since` and `until` are required. @throws ValidationError. */
export function normaliseStatsQuery(query: StatsQuery, extraKeys: readonly string[] = []): NormalisedStatsQuery {
  const q = assertQueryKeys(query, [...STATS_KEYS, ...extraKeys], 'stats query');
  if (q.since === undefined) throw new ValidationError('since', '`since` is required');
  if (q.until === undefined) throw new ValidationError('until', '`until` is required');
  const out: NormalisedStatsQuery = { since: parseTime(q.since, 'since'), until: parseTime(q.until, 'until') };
  if (out.until < out.since) throw new ValidationError('until', 'Expected `until` to be at or after `since`');
  if (q.userId !== undefined) out.userKey = userKey(q.userId);
  if (q.agent !== undefined) out.agent = agentName(q.agent);
  return out;
}

/** Validates a timeseries query (range, bucket width, bucket count). @throws ValidationError. */
export function normaliseTimeseriesQuery(query: TimeseriesQuery): NormalisedStatsQuery & { bucketMs: number; buckets: number } {
  const base = normaliseStatsQuery(query, ['bucketMs']);
  const bucketMs = (query as { bucketMs?: unknown }).bucketMs;
  if (typeof bucketMs !== 'number' || !Number.isInteger(bucketMs) || bucketMs < MIN_BUCKET_MS) {
    throw new ValidationError('bucketMs', `Expected \`bucketMs\` to be an integer >= ${MIN_BUCKET_MS}, got ${describe(bucketMs)}`);
  }
  const buckets = Math.max(1, Math.ceil((base.until - base.since) / bucketMs));
  if (buckets > MAX_BUCKETS) {
    throw new ValidationError('bucketMs', `The range holds ${buckets} buckets of ${bucketMs} ms; at most ${MAX_BUCKETS} are allowed`);
  }
  return { ...base, bucketMs, buckets };
}

/** Counts by status with every status present. */
export function emptyStatusCounts(): Record<TraceStatus, number> {
  return { running: 0, success: 0, error: 0, timeout: 0 };
}

function finiteOrNull(value: unknown): boolean {
  return value === null || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Checks the fields the store indexes or relies on, and returns the normalised trace id. The rest of the record is
 * stored as given (it was produced by the tracing core, already redacted and bounded).
 * @throws ValidationError naming `traces[i].field`.
 */
export function validateTrace(trace: unknown, index: number): string {
  const at = `traces[${index}]`;
  if (trace === null || typeof trace !== 'object') throw new ValidationError(at, `Expected ${at} to be a trace record`);
  const t = trace as Partial<TraceRecord>;
  const traceId = normaliseTraceId(t.traceId, `${at}.traceId`);
  if (t.userId !== null && t.userId !== undefined) userKey(t.userId, `${at}.userId`);
  if (t.agent !== null && t.agent !== undefined) agentName(t.agent, `${at}.agent`);
  status(t.status, `${at}.status`);
  if (typeof t.startedAt !== 'number' || !Number.isFinite(t.startedAt) || t.startedAt < 0) {
    throw new ValidationError(`${at}.startedAt`, `Expected ${at}.startedAt to be epoch ms, got ${describe(t.startedAt)}`);
  }
  if (!finiteOrNull(t.endedAt ?? null)) throw new ValidationError(`${at}.endedAt`, `Expected ${at}.endedAt to be epoch ms or null`);
  if (!finiteOrNull(t.durationMs ?? null)) throw new ValidationError(`${at}.durationMs`, `Expected ${at}.durationMs to be a number or null`);
  if (!Array.isArray(t.spans)) throw new ValidationError(`${at}.spans`, `Expected ${at}.spans to be an array`);
  for (let i = 0; i < t.spans.length; i++) {
    const span = t.spans[i] as unknown;
    if (
      span === null ||
      typeof span !== 'object' ||
      typeof (span as { spanId?: unknown }).spanId !== 'string' ||
      !(SPAN_KINDS as readonly unknown[]).includes((span as { kind?: unknown }).kind)
    ) {
      throw new ValidationError(`${at}.spans[${i}]`, `Expected ${at}.spans[${i}] to be a span record with a spanId and a known kind`);
    }
  }
  return traceId;
}

/** A short description of a bad value for an error message (never the whole value). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (value instanceof Date) return 'an invalid Date';
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}

/** Array check that does not narrow a typed array to any[] (for input typed as an array but not trusted). */
export function isArrayValue(value: unknown): boolean {
  return Array.isArray(value);
}
