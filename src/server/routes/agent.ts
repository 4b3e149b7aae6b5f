/**
 * Agent runs: one message in, the run's output and trace id out. A valid W3C `traceparent` header makes the run
 * join the caller's trace (same trace id; the run's root span is a child of the caller's span); a malformed one is
 * ignored, as the Trace Context spec asks (the run starts a trace of its own). The response always carries the run's
 * own `traceparent` when the run was traced.
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { parseTraceparent } from '../../trace/traceparent.js';
import { AgentRunBodySchema, AgentRunResultSchema, ErrorSchema } from '../schemas.js';
import { BAD_400, readRoute, type RouteContext } from './route.js';

/** 503 for a run cancelled (or refused) because the service is shutting down; a client may retry elsewhere. */
const shuttingDown = (c: Context, traceId?: string) => {
  c.header('Retry-After', '1');
  const message = traceId
    ? `The service is shutting down and cancelled this run (trace ${traceId}); retry the request`
    : 'The service is shutting down; retry the request';
  return c.json({ error: 'shutting_down', message }, 503);
};

export function agentRoutes({ app, deps, guards }: RouteContext): void {
  app.openapi(
    readRoute(guards, {
      method: 'post',
      path: '/api/agent/run',
      summary: 'Run the agent on one message',
      request: {
        headers: z.object({
          traceparent: z.string().optional().openapi({
            description: "W3C trace context of the caller: the run joins this trace. Ignored when malformed (the run starts its own).",
            example: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          }),
        }),
        body: { content: { 'application/json': { schema: AgentRunBodySchema } }, required: true },
      },
      responses: {
        200: {
          description: 'the run finished (status says how)',
          headers: z.object({
            traceparent: z.string().openapi({ description: "The run's W3C trace context: its trace id and root span id; flags 01 when the trace was kept" }),
          }),
          content: { 'application/json': { schema: AgentRunResultSchema } },
        },
        429: { description: 'this user already has AGENTEX_MAX_CONCURRENT_RUNS_PER_USER runs in flight (Retry-After)', content: { 'application/json': { schema: ErrorSchema } } },
        503: {
          description: 'no model provider configured, the instance runs AGENTEX_MAX_CONCURRENT_RUNS already (Retry-After), or the service is shutting down (the run was cancelled; retry)',
          content: { 'application/json': { schema: ErrorSchema } },
        },
        ...BAD_400,
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
      const shutdown = deps.shutdownSignal;
      if (shutdown?.aborted) return shuttingDown(c);
      const controller = new AbortController();
      const onShutdown = () => controller.abort(shutdown?.reason);
      shutdown?.addEventListener('abort', onShutdown, { once: true });
      const timer = setTimeout(() => controller.abort(new Error('request timeout')), deps.config.requestTimeoutMs);
      // The client going away shows as the Node response closing before it was written (the request's own 'close'
      // fires as soon as its body has been read, so it cannot tell).
      const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
      const onClose = () => {
        if (!outgoing?.writableFinished) controller.abort(new Error('client went away'));
      };
      outgoing?.once('close', onClose);
      try {
        const parent = parseTraceparent(c.req.header('traceparent')) ?? undefined;
        const run = deps.runAgent;
        const start = () => run({ message: body.message, userId: body.user_id, agent: body.agent, system: body.system, parent }, controller.signal);
        const admitted = deps.runLimits ? await deps.runLimits.run(body.user_id, start) : { ok: true as const, value: await start() };
        if (!admitted.ok) {
          c.header('Retry-After', String(admitted.retryAfterSeconds));
          return admitted.reason === 'user'
            ? c.json({ error: 'too_many_runs', message: 'This user has the most agent runs allowed at once in flight; retry later' }, 429)
            : c.json({ error: 'runs_saturated', message: 'This instance runs the most agent runs allowed at once; retry later or elsewhere' }, 503);
        }
        const result = admitted.value;
        if (result.traceparent) c.header('traceparent', result.traceparent);
        if (shutdown?.aborted) return shuttingDown(c, result.traceId);
        return c.json({ output: result.output, trace_id: result.traceId, status: result.status, iterations: result.iterations }, 200);
      } finally {
        clearTimeout(timer);
        outgoing?.off('close', onClose);
        shutdown?.removeEventListener('abort', onShutdown);
      }
    },
  );
}
