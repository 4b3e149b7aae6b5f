/** OTLP/HTTP trace ingest (`POST /v1/traces`, JSON or protobuf): spans from other agents become AgentEx traces. */
import { z } from '@hono/zod-openapi';
import { decodeOtlpBodyChunked } from '../otlpLimits.js';
import { encodeOtlpProtobufResponse } from '../otlpProto.js';
import { ErrorSchema } from '../schemas.js';
import { AUTH_401, BAD_400, BEARER, json400, LIMITED_429, type RouteContext } from './route.js';

export function ingestRoutes({ app, deps, guards }: RouteContext): void {
  // Served outside zod-openapi (a raw protobuf or JSON body, decoded with our own bounds) and documented below.
  app.post('/v1/traces', guards.ingest, async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && type !== 'application/x-protobuf') {
      return c.json({ error: 'unsupported_media_type', message: 'Use application/json or application/x-protobuf' }, 415);
    }
    // Scanned within OTLP_DECODE_LIMITS before anything is materialised; a refusal names the limit or the bad part.
    // Mapped in chunks with yields between them: a large body does not hold the event loop for the whole decode.
    const result = await decodeOtlpBodyChunked(type, new Uint8Array(await c.req.arrayBuffer()));
    if (!result.ok) return json400(c, result.error.message, result.error.field);
    const decoded = result.value;
    const outcome = await deps.ingest(decoded.traces);
    if (!outcome.ok) {
      // OTLP exporters retry a 503 after Retry-After: nothing of this request was kept, so nothing is lost.
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      return c.json({ error: outcome.reason === 'full' ? 'ingest_backpressure' : 'store_unavailable', message: outcome.message }, 503);
    }
    const rejectedSpans = decoded.rejectedSpans + outcome.rejectedSpans;
    const errorMessage = [decoded.errorMessage, outcome.errorMessage].filter(Boolean).join('; ');
    if (type === 'application/x-protobuf') {
      const bytes = encodeOtlpProtobufResponse(rejectedSpans, errorMessage);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return c.body(buffer, 200, { 'Content-Type': 'application/x-protobuf' });
    }
    return c.json(
      rejectedSpans > 0 ? { partialSuccess: { rejectedSpans, errorMessage } } : {},
      200,
    );
  });

  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/v1/traces',
    summary: 'OTLP/HTTP trace ingest (ExportTraceServiceRequest, JSON or protobuf); GenAI spans become AgentEx traces',
    security: BEARER,
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
        description:
          'accepted: every span not counted in `partialSuccess` is stored durably (pending assembly); `partialSuccess` counts the rejected spans ' +
          '(malformed, or belonging to a trace AgentEx itself recorded) and says why',
        content: {
          'application/json': {
            schema: z.object({ partialSuccess: z.object({ rejectedSpans: z.number().int(), errorMessage: z.string() }).optional() }).openapi('ExportTraceServiceResponse'),
          },
          'application/x-protobuf': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
      ...BAD_400,
      ...AUTH_401,
      415: { description: 'unsupported content type', content: { 'application/json': { schema: ErrorSchema } } },
      ...LIMITED_429,
      503: {
        description: 'nothing of the request was taken (ingest is behind or the store is down); retry after `Retry-After` seconds',
        headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } },
        content: { 'application/json': { schema: ErrorSchema }, 'application/x-protobuf': { schema: z.string().openapi({ format: 'binary', description: 'google.rpc.Status' }) } },
      },
    },
  });
}
