/**
 * OTLP/HTTP protobuf encoding of trace export requests and responses, via protobufjs and a descriptor of the
 * message subset we read (opentelemetry/proto/collector/trace/v1 and its dependencies). Decoded requests are turned
 * into the same plain shape as the JSON encoding (ids as base64, 64-bit numbers as strings), so one decoder maps both.
 */
import protobuf from 'protobufjs';

const kv = { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } };
const descriptor = {
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
        ExportTracePartialSuccess: { fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
        ResourceSpans: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } } },
        ScopeSpans: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            spans: { rule: 'repeated', type: 'Span', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        InstrumentationScope: {
          fields: {
            name: { type: 'string', id: 1 },
            version: { type: 'string', id: 2 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
            droppedAttributesCount: { type: 'uint32', id: 4 },
          },
        },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            traceState: { type: 'string', id: 3 },
            parentSpanId: { type: 'bytes', id: 4 },
            flags: { type: 'fixed32', id: 16 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            startTimeUnixNano: { type: 'fixed64', id: 7 },
            endTimeUnixNano: { type: 'fixed64', id: 8 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
            droppedAttributesCount: { type: 'uint32', id: 10 },
            events: { rule: 'repeated', type: 'Event', id: 11 },
            droppedEventsCount: { type: 'uint32', id: 12 },
            droppedLinksCount: { type: 'uint32', id: 14 },
            status: { type: 'Status', id: 15 },
          },
        },
        Event: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            name: { type: 'string', id: 2 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
            droppedAttributesCount: { type: 'uint32', id: 4 },
          },
        },
        Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
        // google.rpc.Status, google.protobuf.Any and google.rpc.BadRequest: the body of an OTLP/HTTP failure.
        RpcStatus: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'Any', id: 3 } } },
        Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
        BadRequest: { fields: { field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 } } },
        FieldViolation: { fields: { field: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } } },
        KeyValue: kv,
        KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
        ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
          fields: {
            stringValue: { type: 'string', id: 1 },
            boolValue: { type: 'bool', id: 2 },
            intValue: { type: 'int64', id: 3 },
            doubleValue: { type: 'double', id: 4 },
            arrayValue: { type: 'ArrayValue', id: 5 },
            kvlistValue: { type: 'KeyValueList', id: 6 },
            bytesValue: { type: 'bytes', id: 7 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const RequestType = root.lookupType('otlp.ExportTraceServiceRequest');
const ResponseType = root.lookupType('otlp.ExportTraceServiceResponse');

/** Decodes a protobuf ExportTraceServiceRequest. Throws on malformed bytes (the caller answers 400). */
export function decodeOtlpProtobufRequest(bytes: Uint8Array): unknown {
  const message = RequestType.decode(bytes);
  return RequestType.toObject(message, { longs: String, bytes: String, defaults: false, arrays: true });
}

const ResourceType = root.lookupType('otlp.Resource');
const SpanType = root.lookupType('otlp.Span');
const TO_OBJECT = { longs: String, bytes: String, defaults: false, arrays: true } as const;

/**
 * The spans of a protobuf ExportTraceServiceRequest one at a time, each decoded only when it is asked for (a caller
 * maps a chunk, then yields to the event loop), in the plain shape of {@link decodeOtlpProtobufRequest}, with the plain
 * attributes list of its resource. Walks the outer messages with a reader; other fields are skipped. Throws on
 * malformed bytes (the caller scans the body first, see `scanOtlpProtobuf`).
 */
export function* protobufSpans(bytes: Uint8Array): Generator<{ raw: unknown; resourceAttributes: unknown }> {
  const r = protobuf.Reader.create(bytes);
  const fields = function* (end: number): Generator<{ field: number; start: number; end: number }> {
    while (r.pos < end) {
      const tag = r.uint32();
      if ((tag & 7) !== 2) {
        r.skipType(tag & 7);
        continue;
      }
      const len = r.uint32();
      const start = r.pos;
      r.pos = start + len;
      if (r.pos > end) throw new RangeError('length past the end');
      yield { field: tag >>> 3, start, end: r.pos };
    }
  };
  for (const rs of fields(bytes.length)) {
    if (rs.field !== 1) continue;
    // The resource may come after the scope spans on the wire: find it first.
    let resourceAttributes: unknown = undefined;
    const scopes: { start: number; end: number }[] = [];
    r.pos = rs.start;
    for (const f of fields(rs.end)) {
      if (f.field === 1) resourceAttributes = (ResourceType.toObject(ResourceType.decode(bytes.subarray(f.start, f.end)), TO_OBJECT) as { attributes?: unknown }).attributes;
      else if (f.field === 2) scopes.push(f);
    }
    for (const ss of scopes) {
      r.pos = ss.start;
      const spans: { start: number; end: number }[] = [];
      for (const f of fields(ss.end)) if (f.field === 2) spans.push(f);
      for (const sp of spans) yield { raw: SpanType.toObject(SpanType.decode(bytes.subarray(sp.start, sp.end)), TO_OBJECT), resourceAttributes };
    }
    r.pos = rs.end;
  }
}

/** Encodes a protobuf ExportTraceServiceRequest from the plain (JSON-like) shape; used by tests and the load test. */
export function encodeOtlpProtobufRequest(plain: Record<string, unknown>): Uint8Array {
  return RequestType.encode(RequestType.fromObject(plain)).finish();
}

/** Encodes the OTLP response, with partial success when spans were rejected. */
export function encodeOtlpProtobufResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const body = rejectedSpans > 0 ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return ResponseType.encode(ResponseType.fromObject(body)).finish();
}

const RpcStatusType = root.lookupType('otlp.RpcStatus');
const BadRequestType = root.lookupType('otlp.BadRequest');

/** The google.rpc.Code for an HTTP failure status (the OTLP spec lets clients ignore it; it helps troubleshooting). */
function rpcCode(httpStatus: number): number {
  if (httpStatus === 400 || httpStatus === 413) return 3; // INVALID_ARGUMENT
  if (httpStatus === 401) return 16; // UNAUTHENTICATED
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 404) return 5; // NOT_FOUND
  if (httpStatus === 415) return 12; // UNIMPLEMENTED
  if (httpStatus === 429) return 8; // RESOURCE_EXHAUSTED
  if (httpStatus === 503) return 14; // UNAVAILABLE
  return httpStatus >= 500 ? 13 : 2; // INTERNAL, UNKNOWN
}

/**
 * Encodes the body of an OTLP/HTTP failure to a protobuf request: a `google.rpc.Status` with the message and, for a
 * 400 naming the bad part, a `google.rpc.BadRequest` detail with that field.
 */
export function encodeOtlpProtobufStatus(httpStatus: number, message: string, field?: string): Uint8Array {
  const details =
    field === undefined
      ? []
      : [{ type_url: 'type.googleapis.com/google.rpc.BadRequest', value: BadRequestType.encode(BadRequestType.fromObject({ field_violations: [{ field, description: message }] })).finish() }];
  return RpcStatusType.encode(RpcStatusType.fromObject({ code: rpcCode(httpStatus), message, details })).finish();
}

/** Decodes a `google.rpc.Status` failure body (tests read our answers as a client would), with a BadRequest's fields. */
export function decodeOtlpProtobufStatus(bytes: Uint8Array): { code?: number; message?: string; fields: string[] } {
  const status = RpcStatusType.toObject(RpcStatusType.decode(bytes), { defaults: false }) as { code?: number; message?: string; details?: { type_url: string; value: Uint8Array }[] };
  const fields: string[] = [];
  for (const d of status.details ?? []) {
    if (d.type_url.endsWith('/google.rpc.BadRequest')) {
      const br = BadRequestType.toObject(BadRequestType.decode(d.value)) as { field_violations?: { field: string }[] };
      for (const v of br.field_violations ?? []) fields.push(v.field);
    }
  }
  return { ...(status.code !== undefined ? { code: status.code } : {}), ...(status.message !== undefined ? { message: status.message } : {}), fields };
}

/** Decodes an OTLP protobuf response (used by tests to read our answers as a client would). */
export function decodeOtlpProtobufResponse(bytes: Uint8Array): { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } } {
  return ResponseType.toObject(ResponseType.decode(bytes), { longs: String, defaults: false });
}
