/**
 * The wire schemas of the HTTP API, written once in zod and used for request validation, response typing and the
 * OpenAPI document. They mirror the trace model (`src/trace/model.ts`); the type checks at the bottom of this file
 * fail to compile if the two drift apart.
 */
import { z } from '@hono/zod-openapi';
import type { TraceRecord } from '../trace/model.js';
import type { TraceBucket, TraceStats, TraceSummary } from '../store/TraceStore.js';

export const TraceStatusSchema = z.enum(['running', 'success', 'error', 'timeout']).openapi('TraceStatus');
const SpanKindSchema = z.enum(['agent', 'iteration', 'llm', 'tool', 'retrieval', 'custom']);

export const SpanErrorSchema = z.object({ type: z.string(), message: z.string(), code: z.string().optional() }).openapi('SpanError');

const AttributeValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()).readonly(), z.array(z.number()).readonly(), z.array(z.boolean()).readonly()]);

export const SpanSchema = z
  .object({
    spanId: z.string().openapi({ example: '00f067aa0ba902b7' }),
    parentId: z.string().nullable(),
    kind: SpanKindSchema,
    name: z.string(),
    startedAt: z.number().openapi({ description: 'epoch milliseconds' }),
    endedAt: z.number().nullable(),
    durationMs: z.number().nullable(),
    status: z.enum(['running', 'ok', 'error']),
    error: SpanErrorSchema.optional(),
    input: z.unknown().optional().openapi({ description: 'redacted and truncated' }),
    output: z.unknown().optional().openapi({ description: 'redacted and truncated' }),
    attributes: z.record(z.string(), AttributeValueSchema),
    model: z.string().optional(),
    usage: z.object({ inputTokens: z.number(), outputTokens: z.number(), cacheReadTokens: z.number().optional(), cacheWriteTokens: z.number().optional() }).optional(),
    stopReason: z.string().optional(),
    toolName: z.string().optional(),
    circuit: z.string().optional(),
  })
  .openapi('Span');

const traceFields = {
  traceId: z.string().openapi({ example: '4bf92f3577b34da6a3ce929d0e0e4736' }),
  userId: z.union([z.string(), z.number()]).nullable(),
  agent: z.string().nullable(),
  startedAt: z.number().openapi({ description: 'epoch milliseconds' }),
  endedAt: z.number().nullable(),
  durationMs: z.number().nullable(),
  status: TraceStatusSchema,
  iterations: z.number().int(),
  finalOutput: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  droppedSpans: z.number().int(),
  truncated: z.boolean(),
  keepReason: z.enum(['error', 'timeout', 'slow', 'rate', 'forced', 'ingest']).optional(),
};

export const TraceSchema = z.object({ ...traceFields, spans: z.array(SpanSchema) }).openapi('Trace');
export const TraceSummarySchema = z.object({ ...traceFields, spanCount: z.number().int() }).openapi('TraceSummary');
export const TracePageSchema = z.object({ traces: z.array(TraceSummarySchema), nextCursor: z.string().nullable() }).openapi('TracePage');

const count = z.number().int().nonnegative();
const epochMs = z.number().nullable().openapi({ description: 'epoch ms, null if none since the last reset' });
export const CircuitSchema = z
  .object({
    name: z.string(),
    state: z.enum(['closed', 'open', 'half_open']),
    policy: z.enum(['consecutive', 'countWindow', 'timeWindow']),
    counts: z.object({ calls: count, successes: count, failures: count, timeouts: count, rejections: count, ignored: count, slowCalls: count }),
    consecutiveFailures: count,
    window: z
      .object({ calls: count, failures: count, slow: count })
      .nullable()
      .openapi({ description: 'totals of the sliding window; null under the consecutive policy without slow-call tracking' }),
    cooldownRemainingMs: z.number().nonnegative(),
    lastFailureAt: epochMs,
    lastSuccessAt: epochMs,
    lastError: z.string().nullable(),
    probesInFlight: count,
    generation: count,
    failureRate: z.number().min(0).max(1),
    lastStateChangeAt: z.number().nullable().openapi({ description: 'epoch ms of the last state change seen since the service started' }),
  })
  .strict()
  .openapi('Circuit');
export const CircuitListSchema = z.object({ circuits: z.array(CircuitSchema) }).openapi('CircuitList');

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: 'invalid_request' }),
    message: z.string(),
    field: z.string().optional().openapi({ description: 'the request field that was invalid' }),
    requestId: z.string().optional(),
  })
  .openapi('Error');

/** What every time parameter accepts (the store's `parseTime`). */
const TIME_PARAM = 'ISO-8601 time or epoch ms, from 1970-01-01 to 9999-12-31';

export const ListTracesQuerySchema = z.object({
  user_id: z.string().max(200).optional(),
  status: z.string().optional().openapi({ description: 'running | success | error | timeout' }),
  agent: z.string().max(200).optional(),
  since: z.string().optional().openapi({ description: TIME_PARAM }),
  until: z.string().optional().openapi({ description: TIME_PARAM }),
  limit: z.string().optional().openapi({ description: '1..100, default 20' }),
  cursor: z.string().max(512).optional(),
});

export const StatsQuerySchema = z.object({
  since: z.string().openapi({ description: TIME_PARAM }),
  until: z.string().openapi({ description: TIME_PARAM }),
  bucket_ms: z.string().optional().openapi({ description: 'bucket width for the time series, ms (default: range / 60)' }),
});

export const AgentRunBodySchema = z
  .object({
    message: z.string().min(1).max(32_000),
    user_id: z.union([z.string().min(1).max(200), z.number().int()]).optional(),
    agent: z.string().min(1).max(200).optional(),
    system: z.string().max(32_000).optional(),
  })
  .strict()
  .openapi('AgentRunRequest');

export const AgentRunResultSchema = z
  .object({
    output: z.string(),
    trace_id: z.string(),
    status: TraceStatusSchema,
    iterations: z.number().int(),
  })
  .openapi('AgentRunResult');

const ByStatusSchema = z.record(TraceStatusSchema, z.number().int().nonnegative());
export const StatsResponseSchema = z
  .object({
    stats: z.object({
      total: z.number().int().nonnegative(),
      byStatus: ByStatusSchema,
      p50DurationMs: z.number().nullable().openapi({ description: 'null when no trace in the range has a duration' }),
      p95DurationMs: z.number().nullable(),
    }),
    series: z.array(z.object({ start: z.number().openapi({ description: 'epoch ms' }), total: z.number().int().nonnegative(), byStatus: ByStatusSchema })),
  })
  .openapi('Stats');

// Compile-time drift checks: these stop compiling if the model and the wire schemas drift apart.
export const traceToWire = (t: TraceRecord): z.infer<typeof TraceSchema> => t;
export const summaryToWire = (t: TraceSummary): z.infer<typeof TraceSummarySchema> => t;
export const statsToWire = (stats: TraceStats, series: TraceBucket[]): z.infer<typeof StatsResponseSchema> => ({ stats, series });
