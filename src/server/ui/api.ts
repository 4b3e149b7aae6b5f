/// <reference lib="dom" />
/**
 * The dashboard's HTTP client: same-origin fetches authenticated by the HttpOnly session cookie, with the CSRF header
 * the API wants on state-changing requests. A 401 signs the page out (the sign-in form appears).
 */

export type Role = 'read' | 'admin';
export type TraceStatus = 'running' | 'success' | 'error' | 'timeout';
export type SpanKind = 'agent' | 'iteration' | 'llm' | 'tool' | 'retrieval' | 'custom';

export interface Session {
  authenticated: boolean;
  role?: Role;
}

export interface TraceSummary {
  traceId: string;
  userId: string | number | null;
  agent: string | null;
  startedAt: number;
  durationMs: number | null;
  status: TraceStatus;
  iterations: number;
  spanCount: number;
  toolCount: number | null;
  droppedSpans: number;
  truncated: boolean;
}

export interface Span {
  spanId: string;
  parentId: string | null;
  kind: SpanKind;
  name: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  status: 'running' | 'ok' | 'error';
  error?: { type: string; message: string; code?: string };
  input?: unknown;
  output?: unknown;
  attributes: Record<string, unknown>;
  model?: string;
  usage?: { inputTokens: number; outputTokens: number };
  stopReason?: string;
  toolName?: string;
  circuit?: string;
}

export interface Trace extends Omit<TraceSummary, 'spanCount' | 'toolCount'> {
  endedAt: number | null;
  finalOutput: string | null;
  metadata: Record<string, unknown>;
  keepReason?: string;
  spans: Span[];
}

export interface Circuit {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  counts: { calls: number; successes: number; failures: number; timeouts: number; rejections: number };
  failureRate: number;
  cooldownRemainingMs: number;
  lastError: string | null;
  lastStateChangeAt: number | null;
}

export interface Bucket {
  start: number;
  total: number;
  byStatus: Record<TraceStatus, number>;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
}

export interface Overview {
  since: number;
  until: number;
  bucketMs: number;
  totals: { total: number; byStatus: Record<TraceStatus, number>; p50DurationMs: number | null; p95DurationMs: number | null };
  series: Bucket[];
  circuits: { total: number; open: number; halfOpen: number };
  pipeline: { stored: number; sampledOut: number; dropped: number; lost: number; ingested: number } | null;
}

/** An API answer that was not 2xx; `message` is the server's (already safe to show as text). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const unauthorizedListeners = new Set<() => void>();
/** Called whenever the API answers 401 (expired or revoked token). Returns a disposer. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Calls the API; resolves with the parsed JSON body or rejects with an {@link ApiError}. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-agentex-request': '1' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? null : JSON.stringify(init.body),
    signal: init.signal ?? null,
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/session') for (const l of unauthorizedListeners) l();
    const message = (data as { message?: unknown } | null)?.message;
    throw new ApiError(res.status, typeof message === 'string' ? message : `Request failed (HTTP ${res.status})`);
  }
  return data as T;
}

/** Builds a query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
