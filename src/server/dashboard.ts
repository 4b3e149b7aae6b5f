/**
 * The operational dashboard, served by the service itself: the built single-page app under `/` (with a strict
 * Content-Security-Policy: no inline script or style, nothing from another origin) and the few API routes only the
 * dashboard needs — the session cookie exchange, a server-sent-events stream of circuit states, the overview
 * aggregates and a trace page that carries tool counts. The API proper stays in `app.ts`.
 *
 * Auth: the start-up URL carries `?token=` once. The page route swaps it for an HttpOnly, SameSite=Strict cookie and
 * redirects to the same URL without the token, before any script runs; the API accepts that cookie (see `auth.ts`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { parseTime } from '../store/query.js';
import type { ToolSpanRecord } from '../trace/model.js';
import type { CircuitView, ServiceDeps } from './deps.js';
import type { Guards } from './routes/route.js';
import { AUTH_COOKIE, CSRF_HEADER, presentedToken, requireRole, roleOf } from './auth.js';

/** The Content-Security-Policy of every dashboard response: same-origin only, no inline script or style. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** Concurrent circuit streams; more are answered 503 and counted in `streamsRejected`. */
export const MAX_CIRCUIT_STREAMS = 64;
/** How often a stream looks at the circuits, ms; an event is sent only when something changed. */
export const STREAM_POLL_MS = 250;
/** Keep-alive comment interval on idle streams, ms. */
export const STREAM_HEARTBEAT_MS = 15_000;
/** Buckets of the overview's time series. */
export const OVERVIEW_BUCKETS = 30;
/** Largest page of the dashboard's trace list (each row's tool count costs one store read). */
export const MAX_DASHBOARD_PAGE = 50;

/** Client-side routes that answer with the app's `index.html` (deep links). */
const PAGE_ROUTES = ['/', '/circuits', '/traces', '/traces/:id', '/signin'];

export interface DashboardOptions {
  /** Directory holding the built UI (`index.html`, `assets/`). Default: `ui/dist` beside this module. */
  assetsDir?: string;
  /**
   * The API's guards (rate limit per client + token): read routes use `read`, the session exchange `limited`.
   * Default: the read-token check alone, no rate limit (the dashboard served on its own, in tests).
   */
  guards?: Pick<Guards, 'read' | 'limited'>;
}

/** Counters of the dashboard routes (for tests and diagnostics). */
export interface DashboardStats {
  streamsActive: number;
  streamsRejected: number;
}

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array;
  type: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
};

function loadAssets(dir: string): Map<string, Asset> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  const add = (urlPath: string, file: string) => {
    const ext = /\.[a-z]+$/.exec(file)?.[0] ?? '';
    const type = TYPES[ext];
    if (!type) return;
    const body = readFileSync(file);
    // Bundles carry a content hash in their name, so they may be cached forever; index.html never is.
    assets.set(urlPath, { body, gzip: gzipSync(body), type, immutable: /-[A-Z0-9]{8}\.(js|css)$/.test(file) });
  };
  add('/index.html', join(dir, 'index.html'));
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const file = join(assetDir, name);
      if (statSync(file).isFile()) add(`/assets/${name}`, file);
    }
  }
  return assets;
}

function sendAsset(c: Context, asset: Asset, status: 200 | 503 = 200): Response {
  const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const headers: Record<string, string> = {
    'Content-Type': asset.type,
    'Content-Security-Policy': DASHBOARD_CSP,
    'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
  };
  if (gzip) headers['Content-Encoding'] = 'gzip';
  const body = gzip ? asset.gzip : asset.body;
  return c.body(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer, status, headers);
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AgentEx dashboard not built</title></head>
<body><main><h1>The AgentEx dashboard has not been built</h1>
<p>Run <code>npm run build:ui</code> (or <code>npm run build</code>) and reload. The API under <code>/api</code> works without it.</p></main></body></html>`;

/**
 * Parses the trace pipeline counters out of the service's Prometheus exposition: our own runs
 * (`agentex_traces_total`) and the traces assembled from OTLP ingest by this instance (`agentex_ingest_traces_total`:
 * stored and sampled out count in the totals, and `ingested` says how many of the stored ones came from ingest).
 */
export function pipelineFromMetrics(text: string): { stored: number; sampledOut: number; dropped: number; lost: number; ingested: number } | null {
  const out = { stored: 0, sampledOut: 0, dropped: 0, lost: 0, ingested: 0 };
  let seen = false;
  const names: Record<string, keyof typeof out> = { stored: 'stored', sampled_out: 'sampledOut', dropped: 'dropped', lost: 'lost' };
  const num = '(\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)';
  for (const m of text.matchAll(new RegExp(`^agentex_traces_total\\{outcome="(\\w+)"\\} ${num}$`, 'gm'))) {
    const key = names[m[1]!];
    if (key) {
      out[key] += Number(m[2]);
      seen = true;
    }
  }
  for (const m of text.matchAll(new RegExp(`^agentex_ingest_traces_total\\{result="(\\w+)"\\} ${num}$`, 'gm'))) {
    const n = Number(m[2]);
    if (m[1] === 'stored') {
      out.stored += n;
      out.ingested += n;
    } else if (m[1] === 'sampled_out') out.sampledOut += n;
    seen = true;
  }
  return seen ? out : null;
}

/** Circuit fields that change with the clock alone; the client counts them down itself. */
const circuitKey = (list: readonly CircuitView[]) =>
  JSON.stringify(list.map(({ cooldownRemainingMs: _c, window: _w, ...rest }) => rest));

/**
 * Builds the dashboard sub-app; mount it on the API app with `app.route('/', createDashboard(deps))`.
 * Starts no timer of its own: each circuit stream polls while its client is connected and ends when the service
 * stops being ready (shutdown), so it never holds a graceful shutdown open.
 */
export function createDashboard(deps: ServiceDeps, options: DashboardOptions = {}): Hono & { dashboardStats(): DashboardStats } {
  const app = new Hono();
  const dir = options.assetsDir ?? fileURLToPath(new URL('./ui/dist/', import.meta.url));
  let assets = loadAssets(dir);
  const read = options.guards?.read ?? requireRole('read', deps.tokens);
  const limited = options.guards?.limited ?? (async (_c: Context, next: () => Promise<void>) => next());
  const counters: DashboardStats = { streamsActive: 0, streamsRejected: 0 };
  const cookieFlags = (c: Context) => {
    const secure = new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
    return `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  };
  const setCookie = (c: Context, token: string) => c.header('Set-Cookie', `${AUTH_COOKIE}=${encodeURIComponent(token)}; ${cookieFlags(c)}`);

  // --- pages: the token exchange happens here, before any script sees the URL --------------------------------------
  const page = (c: Context) => {
    const url = new URL(c.req.url);
    if (url.searchParams.has('token')) {
      const token = url.searchParams.get('token') ?? '';
      url.searchParams.delete('token');
      if (roleOf(token, deps.tokens) !== null) setCookie(c, token);
      else url.searchParams.set('signin', 'invalid');
      c.header('Cache-Control', 'no-store');
      c.header('Content-Security-Policy', DASHBOARD_CSP);
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    assets ??= loadAssets(dir);
    const index = assets?.get('/index.html');
    if (!index) return c.html(NOT_BUILT, 503, { 'Content-Security-Policy': DASHBOARD_CSP, 'Cache-Control': 'no-store' });
    return sendAsset(c, index);
  };
  for (const path of PAGE_ROUTES) app.get(path, page);
  app.get('/assets/:file', (c) => {
    assets ??= loadAssets(dir);
    const asset = assets?.get(`/assets/${c.req.param('file')}`);
    if (!asset) return c.json({ error: 'not_found', message: 'No such dashboard asset' }, 404);
    return sendAsset(c, asset);
  });

  // --- session: who am I, sign in, sign out -----------------------------------------------------------------------
  app.get('/api/session', limited, (c) => {
    c.header('Cache-Control', 'no-store');
    const role = roleOf(presentedToken(c).token, deps.tokens);
    return c.json(role === null ? { authenticated: false as const } : { authenticated: true as const, role }, 200);
  });
  app.post('/api/session', limited, async (c) => {
    c.header('Cache-Control', 'no-store');
    if (!c.req.header(CSRF_HEADER)) return c.json({ error: 'csrf', message: `Sign-in requests need the ${CSRF_HEADER} header` }, 403);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'invalid_request', message: 'body: expected JSON { "token": "..." }', field: 'token' }, 400);
    }
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) {
      return c.json({ error: 'invalid_request', message: 'token: expected a non-empty string of at most 512 characters', field: 'token' }, 400);
    }
    const role = roleOf(token.trim(), deps.tokens);
    if (role === null) return c.json({ error: 'unauthorized', message: 'This token is not valid for this service' }, 401);
    setCookie(c, token.trim());
    return c.json({ authenticated: true as const, role }, 200);
  });
  app.delete('/api/session', limited, (c) => {
    if (!c.req.header(CSRF_HEADER)) return c.json({ error: 'csrf', message: `Sign-out requests need the ${CSRF_HEADER} header` }, 403);
    c.header('Set-Cookie', `${AUTH_COOKIE}=; Max-Age=0; ${cookieFlags(c)}`);
    return c.json({ authenticated: false as const }, 200);
  });

  // --- circuits, live -----------------------------------------------------------------------------------------------
  app.get('/api/circuits/stream', read, (c) => {
    if (counters.streamsActive >= MAX_CIRCUIT_STREAMS) {
      counters.streamsRejected++;
      c.header('Retry-After', '5');
      return c.json({ error: 'too_many_streams', message: `At most ${MAX_CIRCUIT_STREAMS} circuit streams at once; retry later` }, 503);
    }
    counters.streamsActive++;
    c.header('Cache-Control', 'no-store');
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(
      c,
      async (stream) => {
        try {
          let lastKey = '';
          let lastSent = 0;
          let id = 0;
          while (!stream.aborted && !stream.closed && deps.isReady()) {
            const circuits = deps.circuits.list();
            const key = circuitKey(circuits);
            const now = Date.now();
            if (key !== lastKey) {
              lastKey = key;
              lastSent = now;
              await stream.writeSSE({ event: 'circuits', id: String(++id), retry: 2000, data: JSON.stringify({ circuits, at: now }) });
            } else if (now - lastSent >= STREAM_HEARTBEAT_MS) {
              lastSent = now;
              await stream.write(': keep-alive\n\n');
            }
            await stream.sleep(STREAM_POLL_MS);
          }
        } finally {
          counters.streamsActive--;
        }
      },
      async () => {
        // A write to a client that went away: the loop above ends on `aborted`; nothing to report.
      },
    );
  });

  // --- overview -----------------------------------------------------------------------------------------------------
  app.get('/api/dashboard/overview', read, async (c) => {
    // The store's own time parser and bounds: a bad or out-of-range time is a ValidationError, answered 400 naming it.
    const q = c.req.query();
    const until = q.until ? parseTime(q.until, 'until') : Date.now();
    const since = q.since ? parseTime(q.since, 'since') : Math.max(0, until - 60 * 60 * 1000);
    if (since >= until) return c.json({ error: 'invalid_request', message: 'since: must be before until', field: 'since' }, 400);
    // Buckets come from an index, never from stepping a time: at most OVERVIEW_BUCKETS, whatever the range.
    const bucketMs = Math.max(1000, Math.ceil((until - since) / OVERVIEW_BUCKETS / 1000) * 1000);
    const count = Math.min(OVERVIEW_BUCKETS, Math.ceil((until - since) / bucketMs));
    const starts = Array.from({ length: count }, (_, i) => since + i * bucketMs);
    const [totals, buckets, metricsText] = await Promise.all([
      deps.store.stats({ since, until }),
      Promise.all(starts.map((start) => deps.store.stats({ since: start, until: Math.min(until, start + bucketMs) }))),
      deps.metrics.render().then((r) => r.body, () => ''),
    ]);
    const circuits = deps.circuits.list();
    return c.json(
      {
        since,
        until,
        bucketMs,
        totals,
        series: buckets.map((b, i) => ({ start: starts[i]!, total: b.total, byStatus: b.byStatus, p50DurationMs: b.p50DurationMs, p95DurationMs: b.p95DurationMs })),
        circuits: {
          total: circuits.length,
          open: circuits.filter((s) => s.state === 'open').length,
          halfOpen: circuits.filter((s) => s.state === 'half_open').length,
        },
        pipeline: pipelineFromMetrics(metricsText),
      },
      200,
    );
  });

  // --- traces page with tool counts -----------------------------------------------------------------------------------
  app.get('/api/dashboard/traces', read, async (c) => {
    const q = c.req.query();
    const limit = q.limit === undefined ? 25 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DASHBOARD_PAGE) {
      return c.json({ error: 'invalid_request', message: `limit: expected an integer from 1 to ${MAX_DASHBOARD_PAGE}`, field: 'limit' }, 400);
    }
    // The store validates the rest (status, times, cursor) and its ValidationError becomes a 400 naming the field.
    const page = await deps.store.list({
      userId: q.user_id || undefined,
      status: (q.status || undefined) as never,
      agent: q.agent || undefined,
      since: q.since || undefined,
      until: q.until || undefined,
      limit,
      cursor: q.cursor || undefined,
    });
    const traces = await Promise.all(
      page.traces.map(async (t) => {
        const full = await deps.store.get(t.traceId);
        const toolCount = full ? full.spans.filter((s): s is ToolSpanRecord => s.kind === 'tool').length : null;
        return { ...t, toolCount };
      }),
    );
    return c.json({ traces, nextCursor: page.nextCursor }, 200);
  });

  return Object.assign(app, { dashboardStats: () => ({ ...counters }) });
}
