/** OTLP/HTTP trace ingest (`POST /v1/traces`, JSON or protobuf): spans from other agents become AgentEx traces. */
import { z } from '@hono/zod-openapi';
import { decodeOtlpBody } from '../otlpLimits.js';
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
    const result = decodeOtlpBody(type, new Uint8Array(await c.req.arrayBuffer()));
    if (!result.ok) return json400(c, result.error.message, result.error.field);
    const decoded = result.value;
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
        description: 'accepted; `partialSuccess` counts rejected spans',
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
    },
  });
}
