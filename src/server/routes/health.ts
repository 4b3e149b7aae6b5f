/** Health, readiness and metrics: no token and no rate limit (load balancers and scrapers poll them). */
import { createRoute, z } from '@hono/zod-openapi';
import type { HealthResult } from '../../store/TraceStore.js';
import { bearerToken, safeEqual } from '../auth.js';
import { AUTH_401, type RouteContext } from './route.js';

/** How long one store health ping answers `/health`. */
export const HEALTH_PING_TTL_MS = 1000;

export function healthRoutes({ app, deps }: RouteContext): void {
  // One store round trip serves every call of the same second: a flood of health checks never becomes a flood of
  // database queries.
  let lastPing: { at: number; result: Promise<HealthResult> } | undefined;
  const storePing = (): Promise<HealthResult> => {
    const now = Date.now();
    if (!lastPing || now - lastPing.at >= HEALTH_PING_TTL_MS) lastPing = { at: now, result: deps.store.ping() };
    return lastPing.result;
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Health: circuit states, store reachability and store writes',
      responses: {
        200: {
          description: 'healthy or degraded',
          content: {
            'application/json': {
              schema: z.object({
                status: z.enum(['healthy', 'degraded']),
                circuits: z.record(z.string(), z.enum(['closed', 'open', 'half_open'])),
                store: z.enum(['ok', 'down', 'write_failing']).openapi({
                  description: '`down`: the store does not answer its ping; `write_failing`: it answers, but the last several trace writes failed (recovers on the next successful write)',
                }),
                circuitState: z.enum(['local', 'shared', 'local_fallback']).optional().openapi({
                  description:
                    '`shared`: circuit state is shared with the other instances (Redis or Postgres); `local`: no shared store is configured; `local_fallback`: the shared store is unreachable, so circuits run on this instance\'s state until it returns',
                }),
              }),
            },
          },
        },
      },
    }),
    async (c) => {
      const circuits = Object.fromEntries(deps.circuits.list().map((s) => [s.name, s.state]));
      const ping = await storePing();
      const store = !ping.ok ? ('down' as const) : deps.storeWrites?.() === 'failing' ? ('write_failing' as const) : ('ok' as const);
      const circuitState = deps.circuitState?.();
      const degraded = store !== 'ok' || circuitState === 'local_fallback' || Object.values(circuits).some((s) => s === 'open');
      return c.json({ status: degraded ? ('degraded' as const) : ('healthy' as const), circuits, store, ...(circuitState ? { circuitState } : {}) }, 200);
    },
  );

  const ready = z.object({ ready: z.boolean() });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/ready',
      summary: 'Readiness for load balancers',
      responses: {
        200: { description: 'ready', content: { 'application/json': { schema: ready } } },
        503: { description: 'starting or shutting down', content: { 'application/json': { schema: ready } } },
      },
    }),
    (c) => (deps.isReady() ? c.json({ ready: true }, 200) : c.json({ ready: false }, 503)),
  );

  // Open unless AGENTEX_METRICS_TOKEN is set; then scrapers present it as a bearer token.
  const metricsToken = deps.config.metricsToken;
  app.get('/metrics', async (c) => {
    if (metricsToken !== undefined && !safeEqual(bearerToken(c.req.header('authorization')) ?? '', metricsToken)) {
      c.header('WWW-Authenticate', 'Bearer realm="agentex-metrics"');
      return c.json({ error: 'unauthorized', message: 'A valid bearer token is required' }, 401);
    }
    const { contentType, body } = await deps.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format); needs AGENTEX_METRICS_TOKEN as a bearer token when it is set',
    security: [{ bearerAuth: [] }, {}],
    responses: { 200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } }, ...AUTH_401 },
  });
}
