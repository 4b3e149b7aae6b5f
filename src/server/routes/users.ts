/** Erasure of a user's data (GDPR right to erasure). */
import { z } from '@hono/zod-openapi';
import { ErrorSchema } from '../schemas.js';
import { adminRoute, BAD_400, type RouteContext } from './route.js';

export function userRoutes({ app, deps, guards }: RouteContext): void {
  app.openapi(
    adminRoute(guards, {
      method: 'delete',
      path: '/api/users/{userId}/traces',
      summary: 'Delete every trace and the stored conversation of a user (GDPR right to erasure)',
      request: { params: z.object({ userId: z.string().min(1).max(200) }) },
      responses: {
        200: { description: 'deleted', content: { 'application/json': { schema: z.object({ deleted: z.number().int() }) } } },
        503: { description: 'the shared state tier is unreachable: the conversation is not erased everywhere yet; retry', content: { 'application/json': { schema: ErrorSchema } } },
        ...BAD_400,
      },
    }),
    async (c) => {
      const { userId } = c.req.valid('param');
      const deleted = await deps.store.deleteByUser(userId);
      const state = await deps.eraseUserState?.(userId);
      if (state && !state.everywhere) {
        deps.logger.warn({ requestId: c.get('requestId'), deleted }, 'user traces deleted; conversation not erased from the shared state tier (unreachable)');
        c.header('Retry-After', '5');
        return c.json({ error: 'erasure_incomplete', message: `Deleted ${deleted} traces, but the shared state tier is unreachable: the conversation is not erased on every instance yet; retry` }, 503);
      }
      deps.logger.info({ requestId: c.get('requestId'), deleted }, 'user traces deleted');
      return c.json({ deleted }, 200);
    },
  );
}
