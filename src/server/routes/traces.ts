/** Reading traces (list, one trace, aggregates) and purging expired ones. */
import { z } from '@hono/zod-openapi';
import { parseTime } from '../../store/query.js';
import { ListTracesQuerySchema, StatsQuerySchema, StatsResponseSchema, TracePageSchema, TraceSchema } from '../schemas.js';
import { adminRoute, BAD_400, NOT_FOUND_404, readRoute, type RouteContext } from './route.js';

export function traceRoutes({ app, deps, guards }: RouteContext): void {
  app.openapi(
    readRoute(guards, {
      method: 'get',
      path: '/api/traces',
      summary: 'List traces, newest first, with filters and keyset pagination',
      request: { query: ListTracesQuerySchema },
      responses: { 200: { description: 'a page of traces', content: { 'application/json': { schema: TracePageSchema } } }, ...BAD_400 },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await deps.store.list({
        userId: q.user_id,
        status: q.status as never,
        agent: q.agent,
        since: q.since,
        until: q.until,
        limit: q.limit,
        cursor: q.cursor,
      });
      return c.json(page, 200);
    },
  );

  app.openapi(
    readRoute(guards, {
      method: 'get',
      path: '/api/traces/{id}',
      summary: 'One trace with its span tree',
      request: { params: z.object({ id: z.string().openapi({ description: '32 hex chars or a UUID' }) }) },
      responses: { 200: { description: 'the trace', content: { 'application/json': { schema: TraceSchema } } }, ...NOT_FOUND_404('trace'), ...BAD_400 },
    }),
    async (c) => {
      const trace = await deps.store.get(c.req.valid('param').id);
      if (trace === null) return c.json({ error: 'not_found', message: 'No trace with this id' }, 404);
      return c.json(trace, 200);
    },
  );

  app.openapi(
    readRoute(guards, {
      method: 'get',
      path: '/api/stats',
      summary: 'Runs by status, p50/p95 duration and a time series over a range (for the dashboard)',
      request: { query: StatsQuerySchema },
      responses: { 200: { description: 'aggregates', content: { 'application/json': { schema: StatsResponseSchema } } }, ...BAD_400 },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // One parser and one set of bounds for every time parameter: the store's (a ValidationError is a 400).
      const since = parseTime(q.since, 'since');
      const until = parseTime(q.until, 'until');
      const bucketMs = q.bucket_ms !== undefined ? Number(q.bucket_ms) : Math.max(1000, Math.ceil((until - since) / 60 / 1000) * 1000);
      const stats = await deps.store.stats({ since, until });
      const series = await deps.store.timeseries({ since, until, bucketMs });
      return c.json({ stats, series }, 200);
    },
  );

  app.openapi(
    adminRoute(guards, {
      method: 'post',
      path: '/api/traces/purge',
      summary: 'Delete expired traces now',
      responses: { 200: { description: 'purged', content: { 'application/json': { schema: z.object({ deleted: z.number().int() }) } } } },
    }),
    async (c) => c.json({ deleted: await deps.store.purgeExpired() }, 200),
  );
}
