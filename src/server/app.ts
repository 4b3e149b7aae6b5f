/**
 * The AgentEx HTTP API (hono): traces, circuits, agent runs, OTLP ingest, health, readiness, metrics, the dashboard
 * and the OpenAPI document. Everything the app needs is passed in (`ServiceDeps`, see `deps.ts`), so tests build the
 * app on a temp SQLite store and drive it through a real server on 127.0.0.1.
 *
 * Every request passes the same named steps — request id, security headers, request log (access log + metrics),
 * CORS (when configured), body limit — then the route's own guard (rate limit per client + token, see `guards.ts`).
 * Routes live in `routes/`, one module per area.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { isValidationError } from '../common/errors.js';
import { DEFAULT_INGEST_RATE_LIMIT } from './config.js';
import { createDashboard } from './dashboard.js';
import type { ServiceDeps } from './deps.js';
import { createGuards } from './guards.js';
import { bodyLimit, otlpFailureEncoding, requestLog } from './middleware.js';
import { agentRoutes } from './routes/agent.js';
import { circuitRoutes } from './routes/circuits.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { json400, type Env, type RouteContext } from './routes/route.js';
import { traceRoutes } from './routes/traces.js';
import { userRoutes } from './routes/users.js';

export type { AgentRunRequest, AgentRunResponse, CircuitsPort, CircuitView, HttpMetrics, IngestResult, ServiceDeps } from './deps.js';
export { HEALTH_PING_TTL_MS } from './routes/health.js';

/** Longest client-sent X-Request-Id kept (longer or malformed ones are replaced by a UUID). */
export const MAX_REQUEST_ID_LENGTH = 64;

/** Query names on the wire → store field names (so a store ValidationError names the field the client sent). */
const WIRE_FIELD: Record<string, string> = { userId: 'user_id', bucketMs: 'bucket_ms' };

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
  const { logger, metrics, config } = deps;

  app.use(requestId({ limitLength: MAX_REQUEST_ID_LENGTH }));
  app.use(secureHeaders());
  app.use(requestLog(logger, metrics));
  const origins = config.corsOrigins.split(',').map((s) => s.trim()).filter(Boolean);
  if (origins.length > 0) app.use('/api/*', cors({ origin: origins, allowHeaders: ['Authorization', 'Content-Type'] }));
  // Before the body limit, so its 413 to a protobuf OTLP request is encoded as the OTLP spec requires too.
  app.use('/v1/traces', otlpFailureEncoding());
  app.use(bodyLimit(config.bodyLimitBytes));

  app.onError((err, c) => {
    if (isValidationError(err)) return json400(c, err.message, WIRE_FIELD[err.field] ?? err.field);
    if (err instanceof HTTPException) return c.json({ error: 'http_error', message: err.message || 'request failed' }, err.status);
    const requestId = c.get('requestId');
    logger.error({ requestId, err: { type: err.name, message: err.message } }, 'unhandled error');
    return c.json({ error: 'internal', message: 'Internal error', requestId }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `No route ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

  const guards = createGuards({
    tokens: deps.tokens,
    rateLimit: config.rateLimit,
    adminRateLimit: config.adminRateLimit,
    ingestRateLimit: config.ingestRateLimit ?? DEFAULT_INGEST_RATE_LIMIT,
    metrics,
    shared: deps.sharedRateLimits,
  });
  const context: RouteContext = { app, deps, guards };
  healthRoutes(context);
  traceRoutes(context);
  userRoutes(context);
  circuitRoutes(context);
  agentRoutes(context);
  ingestRoutes(context);
  app.route('/', createDashboard(deps, { guards }));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: { title: 'AgentEx API', version: '0.1.0', description: 'Traces, circuits, agent runs and OTLP ingest' },
  });
  return app;
}
