import { SpanStatusCode } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../common/errors.js';
import { encodeOtlpProtobufRequest } from './otlpProto.js';
import { OTLP_DECODE_LIMITS, decodeOtlpBody, decodeOtlpBodyChunked, scanOtlpJson, scanOtlpProtobuf, type OtlpDecodeLimit } from './otlpLimits.js';

// --- hand-built protobuf, so adversarial shapes cost nothing to make -------------------------------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
/** A length-delimited field. */
function field(no: number, body: Uint8Array): Uint8Array {
  const head = [...varint((no << 3) | 2), ...varint(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
function repeat(unit: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(unit.length * times);
  for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
  return out;
}
const EMPTY = new Uint8Array(0);
/** request { resourceSpans { scopeSpans { <spans> } } } */
const wrapSpans = (spans: Uint8Array) => field(1, field(2, spans));

function refusedBy(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).field;
  }
  throw new Error('expected a refusal');
}

function realSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('t');
  for (let i = 0; i < 3; i++) {
    const span = tracer.startSpan(`chat ${i}`, { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', list: ['a', 'b'], n: i } });
    span.addEvent('gen_ai.user.message', { content: 'hi [with] {brackets} "and" \\ escapes' });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
  }
  return exporter.getFinishedSpans();
}

describe('scanOtlpProtobuf', () => {
  it('passes the official serializer output and counts its spans', () => {
    expect(scanOtlpProtobuf(ProtobufTraceSerializer.serializeRequest(realSpans())!)).toMatchObject({ spans: 3 });
  });

  it('refuses 5 MB of 2.5 million empty spans at the span limit', () => {
    const body = wrapSpans(repeat(field(2, EMPTY), 2_500_000));
    expect(body.length).toBeGreaterThan(5_000_000);
    expect(refusedBy(() => scanOtlpProtobuf(body))).toBe('spans');
  });

  it('refuses one span with 2.5 million empty attributes at the attribute limit', () => {
    const body = wrapSpans(field(2, repeat(field(9, EMPTY), 2_500_000)));
    expect(refusedBy(() => scanOtlpProtobuf(body))).toBe('attributes');
  });

  it('refuses too many resource spans, scope spans, events, array values, nesting and objects', () => {
    const cases: [OtlpDecodeLimit, Uint8Array][] = [
      ['resourceSpans', repeat(field(1, EMPTY), OTLP_DECODE_LIMITS.resourceSpans + 1)],
      ['scopeSpans', field(1, repeat(field(2, EMPTY), OTLP_DECODE_LIMITS.scopeSpans + 1))],
      ['events', wrapSpans(field(2, repeat(field(11, EMPTY), OTLP_DECODE_LIMITS.events + 1)))],
      // span { attributes { value { arrayValue { values × N } } } }
      ['arrayValues', wrapSpans(field(2, field(9, field(2, field(5, repeat(field(1, EMPTY), OTLP_DECODE_LIMITS.arrayValues + 1))))))],
      // resource attributes: 300 lists... made as many spans of 1,000 attributes each
      ['nodes', wrapSpans(repeat(field(2, repeat(field(9, EMPTY), 1_000)), 400))],
    ];
    for (const [limit, body] of cases) expect(refusedBy(() => scanOtlpProtobuf(body))).toBe(limit);
    // AnyValue { arrayValue { values { arrayValue { ... } } } } deeper than the limit.
    let deep: Uint8Array = EMPTY;
    for (let i = 0; i < OTLP_DECODE_LIMITS.depth + 1; i++) deep = field(5, field(1, deep));
    expect(refusedBy(() => scanOtlpProtobuf(wrapSpans(field(2, field(9, field(2, deep))))))).toBe('depth');
  });

  it('refuses malformed bytes with a clear error instead of throwing something else', () => {
    const cases = [
      new Uint8Array([0x0a, 0xff, 0xff, 0xff]), // length past the end
      new Uint8Array([0x0a, 0x02, 0x12, 0x05]), // nested length past its parent
      new Uint8Array([0x00]), // field 0
      new Uint8Array([0x0b]), // a group start
      new Uint8Array([0x0a, 0x01, 0x10]), // a varint cut short inside a message
    ];
    for (const body of cases) expect(refusedBy(() => scanOtlpProtobuf(body))).toBe('body');
    // Unknown fields of every wire type are skipped.
    expect(scanOtlpProtobuf(new Uint8Array([0x08, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x22, 0x00]))).toEqual({ spans: 0, nodes: 0 });
  });
});

describe('scanOtlpJson', () => {
  const spans = (inner: string) => `{"resourceSpans":[{"scopeSpans":[{"spans":[${inner}]}]}]}`;

  it('passes the official JSON serializer output, strings with brackets and quotes included', () => {
    const text = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(realSpans()));
    expect(text).toContain('[with]');
    expect(scanOtlpJson(text)).toMatchObject({ spans: 3 });
  });

  it('refuses 2.5 million empty spans, and one span with 2.5 million empty attributes', () => {
    expect(refusedBy(() => scanOtlpJson(spans(Array(2_500_000).fill('{}').join(','))))).toBe('spans');
    expect(refusedBy(() => scanOtlpJson(spans(`{"attributes":[${Array(2_500_000).fill('{}').join(',')}]}`)))).toBe('attributes');
  });

  it('refuses each limit by name', () => {
    const many = (unit: string, n: number) => Array(n).fill(unit).join(',');
    const cases: [OtlpDecodeLimit, string][] = [
      ['resourceSpans', `{"resourceSpans":[${many('{}', OTLP_DECODE_LIMITS.resourceSpans + 1)}]}`],
      ['scopeSpans', `{"resourceSpans":[{"scopeSpans":[${many('{}', OTLP_DECODE_LIMITS.scopeSpans + 1)}]}]}`],
      ['events', spans(`{"events":[${many('{}', OTLP_DECODE_LIMITS.events + 1)}]}`)],
      ['arrayValues', spans(`{"attributes":[{"key":"k","value":{"arrayValue":{"values":[${many('{"intValue":1}', OTLP_DECODE_LIMITS.arrayValues + 1)}]}}}]}`)],
      ['arrayValues', `{"resourceSpans":[],"other":[${many('1', OTLP_DECODE_LIMITS.arrayValues + 1)}]}`],
      ['depth', `{"resourceSpans":${'['.repeat(OTLP_DECODE_LIMITS.depth + 1)}`],
      ['nodes', spans(many(`{"attributes":[${many('{}', 1_000)}]}`, 400))],
    ];
    for (const [limit, text] of cases) expect(refusedBy(() => scanOtlpJson(text))).toBe(limit);
  });

  it('is not fooled by keys inside strings, escaped quotes or long keys', () => {
    const tricky = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\\"spans\\":[","attributes":[{"key":"spans","value":{"stringValue":"]}]}"}}]}]}]}]}`;
    expect(JSON.parse(tricky)).toBeTruthy();
    expect(scanOtlpJson(tricky)).toEqual({ spans: 1, nodes: 10 });
    // Values are not keys: a string value "spans" does not turn the next array into a span list.
    expect(scanOtlpJson(`{"k":"spans","a":[{},{}]}`)).toEqual({ spans: 0, nodes: 4 });
    expect(scanOtlpJson(`{"${'x'.repeat(40)}":[1,2],"n":-1.5e3,"t":true,"z":null}`)).toEqual({ spans: 0, nodes: 2 });
  });
});

describe('decodeOtlpBody', () => {
  it('decodes both encodings of the same spans to the same traces', () => {
    const s = realSpans();
    const fromProto = decodeOtlpBody('application/x-protobuf', ProtobufTraceSerializer.serializeRequest(s)!);
    const fromJson = decodeOtlpBody('application/json', JsonTraceSerializer.serializeRequest(s)!);
    expect(fromProto.ok && fromJson.ok).toBe(true);
    if (!fromProto.ok || !fromJson.ok) return;
    expect(fromProto.value.acceptedSpans).toBe(3);
    expect(fromProto.value.traces).toEqual(fromJson.value.traces);
    expect(fromProto.value.traces[0]!.spans[0]).toMatchObject({ kind: 'llm', model: 'm', input: [{ role: 'user', content: 'hi [with] {brackets} "and" \\ escapes' }] });
  });

  it('names what was wrong', () => {
    const refuse = (type: 'application/json' | 'application/x-protobuf', body: string | Uint8Array) => {
      const r = decodeOtlpBody(type, typeof body === 'string' ? new TextEncoder().encode(body) : body);
      return r.ok ? 'ok' : `${r.error.field}: ${r.error.message}`;
    };
    expect(refuse('application/json', '{"resourceSpans": [')).toBe('body: Body is not valid JSON');
    expect(refuse('application/json', '{"spans": []}')).toMatch(/^resourceSpans: .*resourceSpans array/);
    expect(refuse('application/json', `{"resourceSpans":[${Array(1_001).fill('{}').join(',')}]}`)).toBe(
      'resourceSpans: OTLP body refused: more than 1000 resourceSpans entries in one request (limit "resourceSpans")',
    );
    expect(refuse('application/x-protobuf', new Uint8Array([0x0a, 0xff]))).toMatch(/^body: /);
    expect(refuse('application/x-protobuf', new Uint8Array(0))).toBe('ok');
  });
});

describe('decodeOtlpBodyChunked', () => {
  /** 1,000 spans of 10 traces, with resource attributes after the scope spans on the wire in protobuf. */
  function manySpans(): Record<string, unknown> {
    const spans = Array.from({ length: 1_000 }, (_, i) => ({
      traceId: (Math.floor(i / 100) + 1).toString(16).padStart(32, 'a'),
      spanId: (i + 1).toString(16).padStart(16, '0'),
      ...(i % 100 === 0 ? {} : { parentSpanId: (Math.floor(i / 100) * 100 + 1).toString(16).padStart(16, '0') }),
      name: 'chat m',
      startTimeUnixNano: '1700000000000000000',
      endTimeUnixNano: '1700000000500000000',
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'm' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: String(i) } },
      ],
    }));
    return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans: spans.slice(0, 500) }, { spans: spans.slice(500) }] }] };
  }

  /** Runs the decode while a setImmediate ticker counts how often the event loop came round. */
  async function withTicks<T>(run: () => Promise<T>): Promise<{ value: T; ticks: number }> {
    let ticks = 0;
    let on = true;
    const tick = () => {
      ticks++;
      if (on) setImmediate(tick);
    };
    setImmediate(tick);
    const value = await run();
    on = false;
    return { value, ticks };
  }

  it.each(['application/json', 'application/x-protobuf'] as const)('yields to the event loop between chunks and decodes %s as the synchronous decode does', async (type) => {
    const plain = manySpans();
    const hexToB64 = (h: unknown) => Buffer.from(String(h), 'hex').toString('base64');
    const body =
      type === 'application/json'
        ? new TextEncoder().encode(JSON.stringify(plain))
        : encodeOtlpProtobufRequest({
            resourceSpans: (plain.resourceSpans as { scopeSpans: { spans: Record<string, unknown>[] }[] }[]).map((rs) => ({
              ...rs,
              scopeSpans: rs.scopeSpans.map((ss) => ({ spans: ss.spans.map((sp) => ({ ...sp, traceId: hexToB64(sp.traceId), spanId: hexToB64(sp.spanId), ...(sp.parentSpanId ? { parentSpanId: hexToB64(sp.parentSpanId) } : {}) })) })),
            })),
          });
    const sync = decodeOtlpBody(type, body);
    const { value: chunked, ticks } = await withTicks(() => decodeOtlpBodyChunked(type, body, 100));
    expect(chunked).toEqual(sync);
    expect(chunked.ok && chunked.value.acceptedSpans).toBe(1_000);
    expect(chunked.ok && chunked.value.traces[0]!.metadata).toMatchObject({ resource: { 'service.name': 'svc' } });
    // 1,000 spans in chunks of 100: the loop came round between the chunks (other requests are served there).
    expect(ticks).toBeGreaterThanOrEqual(9);
  });

  it('refuses what the synchronous decode refuses, naming the same part', async () => {
    const bad = [
      ['application/json', new TextEncoder().encode('{"resourceSpans": [')],
      ['application/json', new TextEncoder().encode('{"spans": []}')],
      ['application/x-protobuf', new Uint8Array([0x0a, 0xff])],
      ['application/x-protobuf', wrapSpans(repeat(field(2, EMPTY), OTLP_DECODE_LIMITS.spans + 1))],
    ] as const;
    for (const [type, body] of bad) expect(await decodeOtlpBodyChunked(type, body)).toEqual(decodeOtlpBody(type, body));
  });
});
