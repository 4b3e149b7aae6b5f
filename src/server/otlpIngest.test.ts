import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { MAX_SPANS_PER_REQUEST, decodeOtlpJson } from './otlpIngest.js';

/** Real spans from the official SDK, serialised by the official OTLP JSON serializer. */
function officialPayload(): unknown {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'py-agent' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const tracer = provider.getTracer('test');
  tracer.startActiveSpan('invoke_agent planner', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', 'user.id': 'u-42' } }, (root) => {
    const chat = tracer.startSpan('chat gpt-4o', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 120,
        'gen_ai.usage.output_tokens': 30,
        'gen_ai.response.finish_reasons': ['tool_calls'],
      },
    });
    chat.end();
    const tool = tracer.startSpan('execute_tool web_search', {
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search', 'gen_ai.tool.call.arguments': '{"query":"x"}' },
    });
    tool.recordException(new RangeError('provider down'));
    tool.setStatus({ code: SpanStatusCode.ERROR, message: 'provider down' });
    tool.end();
    root.end();
  });
  const spans = exporter.getFinishedSpans();
  manager.disable();
  trace.disable();
  context.disable();
  return JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)));
}

describe('decodeOtlpJson', () => {
  it('maps GenAI spans from the official serializer onto our model', () => {
    const decoded = decodeOtlpJson(officialPayload());
    expect(decoded.rejectedSpans).toBe(0);
    expect(decoded.acceptedSpans).toBe(3);
    expect(decoded.traces).toHaveLength(1);
    const t = decoded.traces[0]!;
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.agent).toBe('planner');
    expect(t.userId).toBe('u-42');
    expect(t.status).toBe('error');
    const byKind = Object.fromEntries(t.spans.map((s) => [s.kind, s]));
    const llm = byKind.llm!;
    expect(llm.kind === 'llm' && [llm.model, llm.usage, llm.stopReason]).toEqual(['gpt-4o', { inputTokens: 120, outputTokens: 30 }, 'tool_calls']);
    const tool = byKind.tool!;
    expect(tool.kind === 'tool' && tool.toolName).toBe('web_search');
    expect(tool.error).toEqual({ type: 'RangeError', message: 'provider down' });
    expect(tool.input).toBe('{"query":"x"}');
    const root = byKind.agent!;
    expect(root.parentId).toBeNull();
    expect(llm.parentId).toBe(root.spanId);
    expect(t.metadata).toMatchObject({ source: 'otlp', resource: { 'service.name': 'py-agent' } });
  });

  it('maps every convention through the decoder: cache tokens, session, consumed attributes, event errors', () => {
    const sv = (v: string) => ({ stringValue: v });
    const iv = (v: number) => ({ intValue: String(v) });
    const base = { traceId: 'd'.repeat(32), startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000' };
    const d = decodeOtlpJson({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: sv('svc') }] },
          scopeSpans: [
            {
              spans: [
                {
                  ...base,
                  spanId: '1'.repeat(16),
                  name: 'agent',
                  attributes: [
                    { key: 'openinference.span.kind', value: sv('AGENT') },
                    { key: 'agent.name', value: sv('oi-agent') },
                    { key: 'session.id', value: sv('s-1') },
                    { key: 'output.value', value: sv('done') },
                  ],
                },
                {
                  ...base,
                  spanId: '2'.repeat(16),
                  parentSpanId: '1'.repeat(16),
                  name: 'llm',
                  attributes: [
                    { key: 'openinference.span.kind', value: sv('LLM') },
                    { key: 'llm.model_name', value: sv('m') },
                    { key: 'llm.token_count.prompt', value: iv(10) },
                    { key: 'llm.token_count.completion', value: iv(2) },
                    { key: 'llm.token_count.prompt_details.cache_read', value: iv(6) },
                    { key: 'llm.input_messages.0.message.content', value: sv('hi') },
                  ],
                },
                {
                  ...base,
                  spanId: '3'.repeat(16),
                  parentSpanId: '1'.repeat(16),
                  name: 'tool',
                  attributes: [
                    { key: 'openinference.span.kind', value: sv('TOOL') },
                    { key: 'tool.name', value: sv('t') },
                  ],
                  status: { code: 2 },
                  events: [{ name: 'exception', attributes: [{ key: 'exception.message', value: sv('boom') }] }, null],
                },
              ],
            },
          ],
        },
      ],
    });
    const t = d.traces[0]!;
    expect(t.agent).toBe('oi-agent');
    expect(t.finalOutput).toBe('done');
    expect(t.metadata).toMatchObject({ sessionId: 's-1' });
    const [agent, llm, tool] = t.spans;
    expect(agent!.attributes['session.id']).toBe('s-1');
    expect(llm).toMatchObject({ kind: 'llm', model: 'm', usage: { inputTokens: 10, outputTokens: 2, cacheReadTokens: 6 }, input: [{ 'message.content': 'hi' }] });
    expect(llm!.attributes).not.toHaveProperty('llm.input_messages.0.message.content');
    expect(tool).toMatchObject({ kind: 'tool', toolName: 't', status: 'error', error: { type: 'Error', message: 'boom' } });
  });

  it('rejects bad spans one by one and keeps the good ones', () => {
    const good = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'ok', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000500000000' };
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                good,
                { ...good, traceId: 'zz' },
                { ...good, spanId: '0'.repeat(16) },
                { ...good, startTimeUnixNano: 'soon' },
                { ...good, endTimeUnixNano: '1' },
                { ...good, parentSpanId: 'nothex' },
                null,
              ],
            },
          ],
        },
        null,
        { scopeSpans: 'nope' },
      ],
    };
    const d = decodeOtlpJson(body);
    expect(d.acceptedSpans).toBe(1);
    expect(d.rejectedSpans).toBe(6);
    expect(d.errorMessage).toMatch(/traceId/);
    expect(d.traces[0]!.durationMs).toBeCloseTo(500);
    expect(d.traces[0]!.status).toBe('success');
  });

  it('accepts base64 ids, odd attribute values and unfinished spans', () => {
    const traceB64 = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex').toString('base64');
    const spanB64 = Buffer.from('1112131415161718', 'hex').toString('base64');
    const d = decodeOtlpJson({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: traceB64,
                  spanId: spanB64,
                  startTimeUnixNano: 1_700_000_000_000_000_000,
                  attributes: [
                    { key: 'n', value: { intValue: '7' } },
                    { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }] } } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: 'x', value: { boolValue: true } }] } } },
                    { key: 'b', value: { bytesValue: 'AAEC' } },
                    { key: '', value: { stringValue: 'ignored' } },
                    { key: 'bad', value: { doubleValue: 'NaN' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const t = d.traces[0]!;
    expect(t.traceId).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(t.spans[0]!.spanId).toBe('1112131415161718');
    expect(t.status).toBe('running');
    expect(t.spans[0]!.attributes).toEqual({ n: 7, arr: ['"a"', '1'], kv: '{"x":true}', b: '[bytes 3]' });
  });

  it('caps spans per request and refuses bodies that are not OTLP', () => {
    expect(() => decodeOtlpJson({})).toThrow(/resourceSpans/);
    expect(() => decodeOtlpJson(null)).toThrow(TypeError);
    const spans = Array.from({ length: MAX_SPANS_PER_REQUEST + 5 }, (_, i) => ({
      traceId: 'c'.repeat(32),
      spanId: (i + 1).toString(16).padStart(16, '0'),
      startTimeUnixNano: '1700000000000000000',
      endTimeUnixNano: '1700000000000000001',
    }));
    const d = decodeOtlpJson({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
    expect(d.acceptedSpans).toBe(MAX_SPANS_PER_REQUEST);
    expect(d.rejectedSpans).toBe(5);
  });
});

describe('OTLP protobuf', () => {
  it('decodes the official protobuf serializer output to the same traces as its JSON output', async () => {
    const { ProtobufTraceSerializer, JsonTraceSerializer } = await import('@opentelemetry/otlp-transformer');
    const { decodeOtlpProtobufRequest, encodeOtlpProtobufResponse, decodeOtlpProtobufResponse } = await import('./otlpProto.js');
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('t').startSpan('chat m', {
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 5, big: 2 ** 40 },
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'bad' });
    span.end();
    const spans = exporter.getFinishedSpans();
    const fromProto = decodeOtlpJson(decodeOtlpProtobufRequest(ProtobufTraceSerializer.serializeRequest(spans)!));
    const fromJson = decodeOtlpJson(JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))));
    expect(fromProto.traces).toEqual(fromJson.traces);
    expect(fromProto.traces[0]!.spans[0]!.attributes.big).toBe(2 ** 40);
    expect(fromProto.traces[0]!.status).toBe('error');
    expect(decodeOtlpProtobufResponse(encodeOtlpProtobufResponse(2, 'invalid traceId'))).toEqual({
      partialSuccess: { rejectedSpans: '2', errorMessage: 'invalid traceId' },
    });
    expect(decodeOtlpProtobufResponse(encodeOtlpProtobufResponse(0, ''))).toEqual({});
    expect(() => decodeOtlpProtobufRequest(new Uint8Array([0x0a, 0xff, 0xff, 0xff]))).toThrow();
  });
});
