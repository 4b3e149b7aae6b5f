/** The circuits: list them, reset one or all. */
import { z } from '@hono/zod-openapi';
import { CircuitListSchema } from '../schemas.js';
import { adminRoute, NOT_FOUND_404, readRoute, type RouteContext } from './route.js';

export function circuitRoutes({ app, deps, guards }: RouteContext): void {
  app.openapi(
    readRoute(guards, {
      method: 'get',
      path: '/api/circuits',
      summary: 'Every circuit with its state and counters',
      responses: { 200: { description: 'circuits', content: { 'application/json': { schema: CircuitListSchema } } } },
    }),
    (c) => c.json({ circuits: deps.circuits.list() }, 200),
  );

  app.openapi(
    adminRoute(guards, {
      method: 'post',
      path: '/api/circuits/reset',
      summary: 'Reset every circuit to closed',
      responses: { 200: { description: 'reset', content: { 'application/json': { schema: z.object({ reset: z.literal('all') }) } } } },
    }),
    (c) => {
      deps.circuits.reset();
      deps.logger.warn({ requestId: c.get('requestId') }, 'all circuits reset by admin');
      return c.json({ reset: 'all' as const }, 200);
    },
  );

  app.openapi(
    adminRoute(guards, {
      method: 'post',
      path: '/api/circuits/{name}/reset',
      summary: 'Reset one circuit to closed',
      request: { params: z.object({ name: z.string().min(1).max(200) }) },
      responses: { 200: { description: 'reset', content: { 'application/json': { schema: z.object({ reset: z.string() }) } } }, ...NOT_FOUND_404('circuit') },
    }),
    (c) => {
      const { name } = c.req.valid('param');
      if (!deps.circuits.reset(name)) return c.json({ error: 'not_found', message: 'No circuit with this name' }, 404);
      deps.logger.warn({ requestId: c.get('requestId'), circuit: name }, 'circuit reset by admin');
      return c.json({ reset: name }, 200);
    },
  );
}
