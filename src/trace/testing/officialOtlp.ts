/**
 * Test helper: proves an OTLP/JSON request is exactly what the official OpenTelemetry JS SDK would send, by rebuilding
 * the SDK's ReadableSpans from it and re-serializing them with the official OTLP serializers (JSON and protobuf).
 */
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { OtlpAnyValue, OtlpKeyValue, OtlpTraceRequest } from '../exporters/otlp.js';

export function decodeValue(v: OtlpAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return v.intValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return v.arrayValue.values.map(decodeValue);
  throw new Error(`AnyValue without a value: ${JSON.stringify(v)}`);
}

export function decodeAttrs(kvs: OtlpKeyValue[]): ReadableSpan['attributes'] {
  return Object.fromEntries(kvs.map((a) => [a.key, decodeValue(a.value)])) as ReadableSpan['attributes'];
}

function hrTime(nanos: string): [number, number] {
  const n = BigInt(nanos);
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

/**
 * Rebuilds the official SDK's ReadableSpans from our payload and re-serializes them with the official OTLP JSON
 * serializer; equal output (compare with `toEqual`) proves the payload is what the SDK would send.
 * @throws Error when the official protobuf serializer refuses the spans (wrong types, ids of the wrong length).
 */
export function officialRoundTrip(body: OtlpTraceRequest): unknown {
  const spans: ReadableSpan[] = [];
  for (const rs of body.resourceSpans) {
    const resource = resourceFromAttributes(decodeAttrs(rs.resource.attributes));
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.flags & 0xff };
        const start = hrTime(s.startTimeUnixNano);
        const end = hrTime(s.endTimeUnixNano);
        // OTLP span flags: bit 8 says whether bit 9 (the parent is remote) is known.
        const isRemote = (s.flags & 0x100) !== 0 && (s.flags & 0x200) !== 0;
        spans.push({
          name: s.name,
          kind: s.kind - 1,
          spanContext: () => ctx,
          parentSpanContext: s.parentSpanId ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1, isRemote } : undefined,
          startTime: start,
          endTime: end,
          duration: [end[0] - start[0], end[1] - start[1]],
          status: s.status.message === undefined ? { code: s.status.code } : { code: s.status.code, message: s.status.message },
          attributes: decodeAttrs(s.attributes),
          links: [],
          events: s.events.map((e) => ({ name: e.name, time: hrTime(e.timeUnixNano), attributes: decodeAttrs(e.attributes), droppedAttributesCount: 0 })),
          ended: true,
          resource,
          instrumentationScope: { name: ss.scope.name },
          droppedAttributesCount: s.droppedAttributesCount,
          droppedEventsCount: s.droppedEventsCount,
          droppedLinksCount: s.droppedLinksCount,
        });
      }
    }
  }
  const proto = ProtobufTraceSerializer.serializeRequest(spans);
  if (!proto || proto.length === 0) throw new Error('the official protobuf serializer produced nothing');
  return JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)));
}
