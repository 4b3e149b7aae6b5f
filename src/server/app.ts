/**
 * The AgentEx HTTP API (hono): traces, circuits, agent runs, OTLP ingest, health, readiness, metrics and the OpenAPI
 * document. Everything the app needs is passed in (`ServiceDeps`): backends are chosen at the edge (`service.ts`),
 * so tests build the app on a temp SQLite store and drive it through a real server on 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, TypedResponse } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { JSONParsed } from 'hono/utils/types';
import { isValidationError } from '../common/errors.js';
import type { CircuitStats } from '../resilience/index.js';
import { parseTime } from '../store/query.js';
import type { HealthResult, TraceStore } from '../store/TraceStore.js';
import type { TraceRecord } from '../trace/model.js';
import { requestAuth, requireRole, type Tokens } from './auth.js';
import { circuitListJson } from './circuitJson.js';
import { AgentexResponse, REQUEST_ID } from './listen.js';
import { createRateLimiter, type RateLimiter, type RateLimiterStats } from './rateLimit.js';
import type { Config } from './config.js';
import { createDashboard } from './dashboard.js';
import { createAccessLog, type Logger } from './logger.js';
import { decodeOtlpJson } from './otlpIngest.js';
import { decodeOtlpProtobufRequest, encodeOtlpProtobufResponse } from './otlpProto.js';
import {
  AgentRunBodySchema,
  AgentRunResultSchema,
  CircuitListSchema,
  ErrorSchema,
  ListTracesQuerySchema,
  StatsQuerySchema,
  TracePageSchema,
  TraceSchema,
} from './schemas.js';

/**
 * A circuit as the API shows it: the breaker's own stats (the resilience core's registry provides them) with its
 * failure rate since the last reset and the time of its last state change. `GET /api/circuits` writes exactly these
 * fields (`circuitJson.ts`).
 */
export interface CircuitView extends CircuitStats {
  /** failures / calls since the last reset; 0 before the first call. */
  failureRate: number;
  /** Epoch ms of the last state change seen by the service, null if none since it started. */
  lastStateChangeAt: number | null;
}

/** The wire form of `GET /api/circuits`; a view that drifts from the documented schema fails to compile here. */
type CircuitList = z.infer<typeof CircuitListSchema>;
const _viewsMatchSchema = (views: CircuitView[]): CircuitList => ({ circuits: views });

/** What the app needs from the circuits (the resilience core's registry). */
export interface CircuitsPort {
  list(): CircuitView[];
  /** Resets one circuit (false when unknown) or, without a name, all of them. */
  reset(name?: string): boolean;
}

/** Result of handing ingested traces to the tracing pipeline (redaction, bounds, sampling, export). */
export interface IngestResult {
  kept: number;
  sampledOut: number;
  dropped: number;
}

export interface AgentRunRequest {
  message: string;
  userId?: string | number | undefined;
  agent?: string | undefined;
  system?: string | undefined;
}

export interface AgentRunResponse {
  output: string;
  traceId: string;
  status: 'running' | 'success' | 'error' | 'timeout';
  iterations: number;
}

/** Request-level metrics the app reports (implemented with prom-client in `metrics.ts`). */
export interface HttpMetrics {
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Reports a rate limiter's counters (read at scrape time). */
  trackRateLimiter?(name: string, stats: () => RateLimiterStats): void;
  /** Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface ServiceDeps {
  config: Pick<Config, 'rateLimit' | 'adminRateLimit' | 'bodyLimitBytes' | 'requestTimeoutMs' | 'corsOrigins'>;
  tokens: Pick<Tokens, 'api' | 'admin'>;
  logger: Logger;
  store: TraceStore;
  circuits: CircuitsPort;
  ingest(traces: TraceRecord[]): IngestResult;
  /** Absent when no model provider is configured: the run route answers 503 saying what to set. */
  runAgent?: ((request: AgentRunRequest, signal: AbortSignal) => Promise<AgentRunResponse>) | undefined;
  metrics: HttpMetrics;
  /** Erases what the state tier keeps about a user (conversations); called with every user deletion. */
  eraseUserState?: ((userId: string) => Promise<void>) | undefined;
  /** Readiness: false until migrations are done and again while shutting down. */
  isReady(): boolean;
}

type Env = { Variables: { requestId: string } };

/** What @hono/node-server passes as `c.env` (absent when the app is driven in-process with `app.request`). */
interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
  outgoing?: ServerResponse;
}

/**
 * A 200 whose body is JSON text written already (by a serializer or by the store), typed as the documented schema
 * `T` it writes — the routes' tests validate real responses against that schema.
 */
const jsonText = <T>(c: Context, text: string) => c.body(text, 200, { 'Content-Type': 'application/json' }) as unknown as TypedResponse<T, 200, 'json'>;

/** How long one store health ping answers `/health`. */
export const HEALTH_PING_TTL_MS = 1000;


const json400 = (c: Context, message: string, field?: string) =>
  c.json({ error: 'invalid_request', message, ...(field ? { field } : {}), requestId: c.get('requestId') as string }, 400);

/** Query names on the wire → store field names (so a store ValidationError names the field the client sent). */
const WIRE_FIELD: Record<string, string> = { userId: 'user_id', bucketMs: 'bucket_ms' };

/**
 * Rate-limit key: the role of a valid token, else the client address — so sending made-up tokens never buys a
 * fresh bucket.
 */
function clientKey(c: Context, tokens: Pick<Tokens, 'api' | 'admin'>): string {
  const { role } = requestAuth(c, tokens);
  if (role) return `t:${role}`;
  return `a:${(c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown'}`;
}

/** Builds the API. Pure: starts no server and no timer of its own. */
export function createApp(deps: ServiceDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const field = issue?.path.map(String).join('.') || undefined;
        return json400(c, `${field ?? 'request'}: ${issue?.message ?? 'invalid'}`, field);
      }
      return undefined;
    },
  });
  const { logger, metrics } = deps;
  const read = requireRole('read', deps.tokens);
  const admin = requireRole('admin', deps.tokens);
  const readLimiter = createRateLimiter({ limit: deps.config.rateLimit });
  const adminLimiter = createRateLimiter({ limit: deps.config.adminRateLimit });
  metrics.trackRateLimiter?.('read', () => readLimiter.stats());
  metrics.trackRateLimiter?.('admin', () => adminLimiter.stats());
  /** The limiter of a request: the stricter one for admin routes (every non-GET under circuits, users and purge). */
  const limiterFor = (method: string, path: string): RateLimiter | undefined => {
    if (path.startsWith('/v1/') || path === '/v1') return readLimiter;
    if (!path.startsWith('/api/') && path !== '/api') return undefined;
    const isAdmin = method !== 'GET' && (path.startsWith('/api/circuits') || path.startsWith('/api/users') || path === '/api/traces/purge');
    return isAdmin ? adminLimiter : readLimiter;
  };
  const tooLarge = (c: Context) => c.json({ error: 'payload_too_large', message: `Body larger than ${deps.config.bodyLimitBytes} bytes` }, 413);
  const limitBody = bodyLimit({ maxSize: deps.config.bodyLimitBytes, onError: tooLarge });

  // The front of every request, in one middleware (each hono middleware level costs an async frame and a promise per
  // request): request id, rate limit, body limit, then access log and request metrics.
  //
  // On the Node server the X-Request-Id header goes straight onto the Node response, with the security headers (see
  // `listen.ts`): a header set through hono makes the response carry a fetch `Headers` object, validated and
  // converted again on the way out (measured: a third of the throughput of a small route). Rate limits apply to
  // `/api/*` and `/v1/*` per client (the role of a valid token, else the address); a 429 carries Retry-After and no
  // RateLimit-* headers are sent on other responses. Only requests that may carry a body go through the body limit.
  // Access lines hold only fields this middleware controls (request id, method, route pattern, status, duration;
  // never paths, queries or bodies), so they are rendered without the logger's key redaction.
  const accessLog = createAccessLog(logger);
  const front: MiddlewareHandler<Env> = async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
    if (outgoing instanceof AgentexResponse) outgoing.setRequestId(requestId);
    else if (outgoing) outgoing.setHeader('X-Request-Id', requestId);
    else c.header('X-Request-Id', requestId);
    const start = performance.now();
    const method = c.req.method;
    const decision = limiterFor(method, c.req.path)?.hit(clientKey(c, deps.tokens));
    if (decision && !decision.allowed) {
      c.header('Retry-After', String(decision.retryAfterSeconds));
      c.res = c.json({ error: 'rate_limited', message: 'Too many requests; retry later' }, 429);
    } else if (method === 'GET' || method === 'HEAD') {
      await next();
    } else if (outgoing !== undefined && c.req.header('transfer-encoding') === undefined) {
      // On the Node server a body has a Content-Length that Node's parser holds the client to, so checking it is
      // the whole limit — and it leaves the body unread, for @hono/node-server to read straight from the socket
      // (hono's bodyLimit builds a fetch Request to inspect the body, which sends every body through web streams:
      // measured, a third of the OTLP ingest throughput).
      if (Number(c.req.header('content-length') ?? 0) > deps.config.bodyLimitBytes) c.res = tooLarge(c);
      else await next();
    } else {
      // Chunked bodies (and in-process requests) are counted as they are read. The body limit answers 413 itself
      // by returning a response; as in hono's compose, it becomes the response only when nothing finalized one.
      const refused = await limitBody(c, next);
      if (refused && !c.finalized) c.res = refused;
    }
    // The route that matched (also when the front answered 429 or 413 before it ran); middleware paths are not routes.
    const last = matchedRoutes(c).at(-1);
    const route = last && last.method !== 'ALL' ? last.path : 'unmatched';
    const seconds = (performance.now() - start) / 1000;
    const status = c.res.status;
    metrics.observeRequest(method, route, status, seconds);
    accessLog({ requestId, method, route, status, ms: Math.round(seconds * 1000) });
  };
  app.use('*', front);
  // CORS (off by default) comes after the front: preflights are logged and count against the client's address.
  const origins = deps.config.corsOrigins.split(',').map((s) => s.trim()).filter(Boolean);
  if (origins.length > 0) app.use('/api/*', cors({ origin: origins, allowHeaders: ['Authorization', 'Content-Type'] }));
  app.onError((err, c) => {
    if (isValidationError(err)) return json400(c, err.message, WIRE_FIELD[err.field] ?? err.field);
    if (err instanceof HTTPException) return c.json({ error: 'http_error', message: err.message || 'request failed' }, err.status);
    const requestId = c.get('requestId');
    logger.error({ requestId, err: { type: err.name, message: err.message } }, 'unhandled error');
    return c.json({ error: 'internal', message: 'Internal error', requestId }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `No route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

  // /health needs no token and no rate limit (load balancers poll it), so one store round trip serves every call of
  // the same second: a flood of health checks never becomes a flood of database queries.
  let lastPing: { at: number; result: Promise<HealthResult> } | undefined;
  const storePing = (): Promise<HealthResult> => {
    const now = Date.now();
    if (!lastPing || now - lastPing.at >= HEALTH_PING_TTL_MS) lastPing = { at: now, result: deps.store.ping() };
    return lastPing.result;
  };

  // --- health, readiness, metrics, OpenAPI: no token ------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Health: circuit states and store reachability',
      responses: {
        200: {
          description: 'healthy or degraded',
          content: {
            'application/json': {
              schema: z.object({
                status: z.enum(['healthy', 'degraded']),
                circuits: z.record(z.string(), z.enum(['closed', 'open', 'half_open'])),
                store: z.enum(['ok', 'down']),
              }),
            },
          },
        },
      },
    }),
    async (c) => {
      const circuits = Object.fromEntries(deps.circuits.list().map((s) => [s.name, s.state]));
      const ping = await storePing();
      const store = ping.ok ? ('ok' as const) : ('down' as const);
      const degraded = store === 'down' || Object.values(circuits).some((s) => s === 'open');
      return c.json({ status: degraded ? ('degraded' as const) : ('healthy' as const), circuits, store }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ready',
      summary: 'Readiness for load balancers',
      responses: {
        200: { description: 'ready', content: { 'application/json': { schema: z.object({ ready: z.boolean() }) } } },
        503: { description: 'starting or shutting down', content: { 'application/json': { schema: z.object({ ready: z.boolean() }) } } },
      },
    }),
    (c) => (deps.isReady() ? c.json({ ready: true }, 200) : c.json({ ready: false }, 503)),
  );

  app.get('/metrics', async (c) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });

  // --- traces ----------------------------------------------------------------------------------------------------
  const auth401 = { 401: { description: 'missing or wrong token', content: { 'application/json': { schema: ErrorSchema } } } };
  const bad400 = { 400: { description: 'invalid request, `field` names what was wrong', content: { 'application/json': { schema: ErrorSchema } } } };
  const limited429 = { 429: { description: 'rate limited; see Retry-After', content: { 'application/json': { schema: ErrorSchema } } } };
  const bearer = [{ bearerAuth: [] }];


  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/traces',
      summary: 'List traces, newest first, with filters and keyset pagination',
      security: bearer,
      middleware: [read] as const,
      request: { query: ListTracesQuerySchema },
      responses: { 200: { description: 'a page of traces', content: { 'application/json': { schema: TracePageSchema } } }, ...bad400, ...auth401, ...limited429 },
    }),
    // The store writes the page's JSON from the stored records without parsing them (`listJson`): the same bytes
    // `c.json(await store.list(...))` would send, at a fraction of the cost (typed as the page by `jsonText`).
    async (c) => {
      const q = c.req.valid('query');
      const page = await deps.store.listJson({
        userId: q.user_id,
        status: q.status as never,
        agent: q.agent,
        since: q.since,
        until: q.until,
        limit: q.limit,
        cursor: q.cursor,
      });
      return jsonText<JSONParsed<z.infer<typeof TracePageSchema>>>(c, page);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/traces/{id}',
      summary: 'One trace with its span tree',
      security: bearer,
      middleware: [read] as const,
      request: { params: z.object({ id: z.string().openapi({ description: '32 hex chars or a UUID' }) }) },
      responses: {
        200: { description: 'the trace', content: { 'application/json': { schema: TraceSchema } } },
        404: { description: 'no such trace', content: { 'application/json': { schema: ErrorSchema } } },
        ...bad400,
        ...auth401,
      },
    }),
    // As for the list: the store writes the trace's JSON from the stored texts (`getJson`), the bytes `c.json` would send.
    async (c) => {
      const trace = await deps.store.getJson(c.req.valid('param').id);
      if (trace === null) return c.json({ error: 'not_found', message: 'No trace with this id' }, 404);
      return jsonText<JSONParsed<z.infer<typeof TraceSchema>>>(c, trace);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/stats',
      summary: 'Runs by status, p50/p95 duration and a time series over a range (for the dashboard)',
      security: bearer,
      middleware: [read] as const,
      request: { query: StatsQuerySchema },
      responses: {
        200: {
          description: 'aggregates',
          content: { 'application/json': { schema: z.object({ stats: z.record(z.string(), z.unknown()), series: z.array(z.record(z.string(), z.unknown())) }) } },
        },
        ...bad400,
        ...auth401,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // One parser and one set of bounds for every time parameter: the store's (a ValidationError is a 400).
      const since = parseTime(q.since, 'since');
      const until = parseTime(q.until, 'until');
      const bucketMs = q.bucket_ms !== undefined ? Number(q.bucket_ms) : Math.max(1000, Math.ceil((until - since) / 60 / 1000) * 1000);
      const stats = await deps.store.stats({ since, until });
      const series = await deps.store.timeseries({ since, until, bucketMs });
      return c.json({ stats: stats as unknown as Record<string, unknown>, series: series as unknown as Record<string, unknown>[] }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/users/{userId}/traces',
      summary: "Delete every trace and the stored conversation of a user (GDPR right to erasure)",
      security: bearer,
      middleware: [admin] as const,
      request: { params: z.object({ userId: z.string().min(1).max(200) }) },
      responses: { 200: { description: 'deleted', content: { 'application/json': { schema: z.object({ deleted: z.number().int() }) } } }, ...bad400, ...auth401, ...limited429 },
    }),
    async (c) => {
      const { userId } = c.req.valid('param');
      const deleted = await deps.store.deleteByUser(userId);
      await deps.eraseUserState?.(userId);
      logger.info({ requestId: c.get('requestId'), deleted }, 'user traces deleted');
      return c.json({ deleted }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/traces/purge',
      summary: 'Delete expired traces now',
      security: bearer,
      middleware: [admin] as const,
      responses: { 200: { description: 'purged', content: { 'application/json': { schema: z.object({ deleted: z.number().int() }) } } }, ...auth401, ...limited429 },
    }),
    async (c) => c.json({ deleted: await deps.store.purgeExpired() }, 200),
  );

  // --- circuits --------------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/circuits',
      summary: 'Every circuit with its state and counters',
      security: bearer,
      middleware: [read] as const,
      responses: { 200: { description: 'circuits', content: { 'application/json': { schema: CircuitListSchema } } }, ...auth401, ...limited429 },
    }),
    // Rendered by circuitListJson, which writes exactly the fields of CircuitListSchema (typed as it by `jsonText`).
    (c) => jsonText<CircuitList>(c, circuitListJson(deps.circuits.list())),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/circuits/reset',
      summary: 'Reset every circuit to closed',
      security: bearer,
      middleware: [admin] as const,
      responses: { 200: { description: 'reset', content: { 'application/json': { schema: z.object({ reset: z.literal('all') }) } } }, ...auth401, ...limited429 },
    }),
    (c) => {
      deps.circuits.reset();
      logger.warn({ requestId: c.get('requestId') }, 'all circuits reset by admin');
      return c.json({ reset: 'all' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/circuits/{name}/reset',
      summary: 'Reset one circuit to closed',
      security: bearer,
      middleware: [admin] as const,
      request: { params: z.object({ name: z.string().min(1).max(200) }) },
      responses: {
        200: { description: 'reset', content: { 'application/json': { schema: z.object({ reset: z.string() }) } } },
        404: { description: 'no such circuit', content: { 'application/json': { schema: ErrorSchema } } },
        ...auth401,
        ...limited429,
      },
    }),
    (c) => {
      const { name } = c.req.valid('param');
      if (!deps.circuits.reset(name)) return c.json({ error: 'not_found', message: 'No circuit with this name' }, 404);
      logger.warn({ requestId: c.get('requestId'), circuit: name }, 'circuit reset by admin');
      return c.json({ reset: name }, 200);
    },
  );

  // --- agent runs ------------------------------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/agent/run',
      summary: 'Run the agent on one message',
      security: bearer,
      middleware: [read] as const,
      request: { body: { content: { 'application/json': { schema: AgentRunBodySchema } }, required: true } },
      responses: {
        200: { description: 'the run finished (status says how)', content: { 'application/json': { schema: AgentRunResultSchema } } },
        503: { description: 'no model provider configured', content: { 'application/json': { schema: ErrorSchema } } },
        ...bad400,
        ...auth401,
        ...limited429,
      },
    }),
    async (c) => {
      if (!deps.runAgent) {
        return c.json(
          {
            error: 'no_model_provider',
            message: 'No model provider is configured: set ANTHROPIC_API_KEY (Anthropic) or OPENAI_API_KEY / OPENAI_BASE_URL (OpenAI-compatible), then restart',
          },
          503,
        );
      }
      const body = c.req.valid('json');
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error('request timeout')), deps.config.requestTimeoutMs);
      // The client going away shows as the response closing before it was written (the request's own 'close'
      // fires as soon as its body has been read, so it cannot tell).
      const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
      const onClose = () => {
        if (!outgoing?.writableFinished) controller.abort(new Error('client went away'));
      };
      outgoing?.once('close', onClose);
      try {
        const result = await deps.runAgent({ message: body.message, userId: body.user_id, agent: body.agent, system: body.system }, controller.signal);
        return c.json({ output: result.output, trace_id: result.traceId, status: result.status, iterations: result.iterations }, 200);
      } finally {
        clearTimeout(timer);
        outgoing?.off('close', onClose);
      }
    },
  );

  // --- OTLP/HTTP ingest ------------------------------------------------------------------------------------------
  app.post('/v1/traces', read, async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    let body: unknown;
    try {
      if (type === 'application/json') body = await c.req.json();
      else if (type === 'application/x-protobuf') body = decodeOtlpProtobufRequest(new Uint8Array(await c.req.arrayBuffer()));
      else return c.json({ error: 'unsupported_media_type', message: 'Use application/json or application/x-protobuf' }, 415);
    } catch {
      return json400(c, 'Body is not a valid OTLP ExportTraceServiceRequest', 'body');
    }
    let decoded;
    try {
      decoded = decodeOtlpJson(body);
    } catch (err) {
      return json400(c, (err as Error).message, 'resourceSpans');
    }
    deps.ingest(decoded.traces);
    if (type === 'application/x-protobuf') {
      const bytes = encodeOtlpProtobufResponse(decoded.rejectedSpans, decoded.errorMessage);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return c.body(buffer, 200, { 'Content-Type': 'application/x-protobuf' });
    }
    return c.json(
      decoded.rejectedSpans > 0 ? { partialSuccess: { rejectedSpans: decoded.rejectedSpans, errorMessage: decoded.errorMessage } } : {},
      200,
    );
  });

  app.route('/', createDashboard(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  // Routes served outside zod-openapi (raw bodies and text) are documented here so the document lists every route.
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    responses: { 200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } } },
  });
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/v1/traces',
    summary: 'OTLP/HTTP trace ingest (ExportTraceServiceRequest, JSON or protobuf); GenAI spans become AgentEx traces',
    security: bearer,
    request: {
      body: {
        required: true,
        content: {
          'application/json': { schema: z.object({ resourceSpans: z.array(z.unknown()) }).openapi('ExportTraceServiceRequest') },
          'application/x-protobuf': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
    },
    responses: {
      200: {
        description: 'accepted; `partialSuccess` counts rejected spans',
        content: {
          'application/json': {
            schema: z.object({ partialSuccess: z.object({ rejectedSpans: z.number().int(), errorMessage: z.string() }).optional() }).openapi('ExportTraceServiceResponse'),
          },
          'application/x-protobuf': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
      ...bad400,
      ...auth401,
      415: { description: 'unsupported content type', content: { 'application/json': { schema: ErrorSchema } } },
      ...limited429,
    },
  });
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: { title: 'AgentEx API', version: '0.1.0', description: 'Traces, circuits, agent runs and OTLP ingest' },
  });
  return app;
}
