import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { otlpExporter, toOtlpJson, rootSpanId, type OtlpTraceRequest } from './otlp.js';
import { decodeAttrs, officialRoundTrip } from '../testing/officialOtlp.js';
import { createTracer } from '../Tracer.js';
import { withSpan } from '../context.js';
import { InvalidOptionsError } from '../../common/errors.js';
import type { SpanRecord, TraceRecord } from '../model.js';
import { HttpStatusError } from '../../common/httpStatus.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: OtlpTraceRequest;
}
const received: Received[] = [];
let failNext = 0;
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(503, { 'retry-after': '0' }).end('busy');
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraceRequest });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function runAgent(includeContent: boolean) {
  const tracer = createTracer({
    sampleRate: 1,
    exporters: [otlpExporter({ url, headers: { 'x-tenant': 't1' }, includeContent, resourceAttributes: { 'deployment.id': 'd1' } })],
    metadata: { serviceName: 'support-bot', serviceVersion: '1.2.3', env: { AGENTEX_LABEL_ENVIRONMENT: 'prod' } },
    processor: { maxAttempts: 1 },
  });
  const secret = `sk-${'Zz9'.repeat(16)}`;
  await tracer.withTrace({ agent: 'researcher', userId: 7, metadata: { tenant: 'acme', plan: { tier: 'pro' } } }, async (trace) => {
    trace.addIteration();
    trace.setFinalOutput('Paris is sunny');
    await withSpan('iteration', 'iteration 1', async () => {
      await withSpan('llm', 'model call', async (span) => {
        span.setModel('claude-sonnet').setUsage({ inputTokens: 120, outputTokens: 30 }).setStopReason('tool_use');
        span.setInput([{ role: 'user', content: `weather in Paris? key ${secret}` }]).setOutput('calling web_search');
        span.setAttributes({ temperature: 0.2, 'gen_ai.provider.name': 'anthropic' });
      });
      await withSpan('tool', 'web_search', async (span) => {
        span.setTool('web_search', 'exa').setInput({ query: 'paris weather' }).setOutput('sunny');
      });
      await withSpan('agent', 'sub-agent', async () => {
        await withSpan('retrieval', 'vector lookup', () => Promise.reject(Object.assign(new Error('index offline'), { code: 'E_IDX' }))).catch(() => undefined);
      });
    });
  });
  await tracer.shutdown();
  return { secret, tracer };
}

describe('OTLP/HTTP JSON exporter', () => {
  it('posts GenAI-convention spans that the official OpenTelemetry serializers reproduce exactly', async () => {
    received.length = 0;
    const { secret } = await runAgent(false);
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-tenant']).toBe('t1');
    expect(officialRoundTrip(body)).toEqual(body);

    const resource = decodeAttrs(body.resourceSpans[0]!.resource.attributes);
    expect(resource).toMatchObject({
      'service.name': 'support-bot', 'service.version': '1.2.3', 'process.runtime.name': 'nodejs', 'deployment.environment.name': 'prod',
      'deployment.id': 'd1', 'process.pid': process.pid,
    });
    const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans;
    const byName = new Map(spans.map((s) => [s.name, s]));
    expect([...byName.keys()]).toEqual(['invoke_agent researcher', 'iteration 1', 'chat claude-sonnet', 'execute_tool web_search', 'invoke_agent sub-agent', 'vector lookup']);
    const root = byName.get('invoke_agent researcher')!;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.spanId).toBe(rootSpanId(root.traceId));
    expect(decodeAttrs(root.attributes)).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'researcher', 'user.id': '7', 'agentex.iterations': 1, 'agentex.metadata.tenant': 'acme', 'agentex.metadata.plan': '{"tier":"pro"}' });
    const chat = decodeAttrs(byName.get('chat claude-sonnet')!.attributes);
    expect(chat).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'claude-sonnet', 'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30, 'gen_ai.response.finish_reasons': ['tool_use'], 'gen_ai.provider.name': 'anthropic', temperature: 0.2,
    });
    expect(byName.get('chat claude-sonnet')!.kind).toBe(3);
    expect(decodeAttrs(byName.get('execute_tool web_search')!.attributes)).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search', 'agentex.circuit': 'exa' });
    const failed = byName.get('vector lookup')!;
    expect(failed.status).toEqual({ code: 2, message: 'index offline' });
    expect(failed.events[0]!.name).toBe('exception');
    expect(decodeAttrs(failed.attributes)['error.type']).toBe('E_IDX');
    expect(byName.get('iteration 1')!.parentSpanId).toBe(root.spanId);
    for (const s of spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(s.startTimeUnixNano).toMatch(/^\d+$/);
      expect(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano)).toBe(true);
    }
    // Content is off by default.
    const text = JSON.stringify(body);
    expect(text).not.toContain('gen_ai.input.messages');
    expect(text).not.toContain('Paris is sunny');
    expect(text).not.toContain(secret);
  });

  it('exports redacted content attributes only when includeContent is set', async () => {
    received.length = 0;
    const { secret } = await runAgent(true);
    const body = received[0]!.body;
    expect(officialRoundTrip(body)).toEqual(body);
    const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans;
    const chat = decodeAttrs(spans.find((s) => s.name.startsWith('chat'))!.attributes);
    expect(chat['gen_ai.input.messages']).toContain('[REDACTED:openai_key]');
    expect(chat['gen_ai.output.messages']).toBe('calling web_search');
    const tool = decodeAttrs(spans.find((s) => s.name.startsWith('execute_tool'))!.attributes);
    expect(tool).toMatchObject({ 'gen_ai.tool.call.arguments': '{"query":"paris weather"}', 'gen_ai.tool.call.result': 'sunny' });
    expect(decodeAttrs(spans[0]!.attributes)['agentex.final_output']).toBe('Paris is sunny');
    expect(JSON.stringify(body)).not.toContain(secret);
  });

  it('rejects non-2xx with HttpStatusError, which the processor retries', async () => {
    received.length = 0;
    failNext = 1;
    const ex = otlpExporter({ url });
    await expect(ex.export(toOtlpJsonInput())).rejects.toBeInstanceOf(HttpStatusError);
    failNext = 1;
    const tracer = createTracer({ sampleRate: 1, exporters: [otlpExporter({ url })], processor: { maxAttempts: 2, retryBaseDelayMs: 1 } });
    await tracer.withTrace('retry-me', async () => 1);
    await tracer.shutdown();
    expect(received).toHaveLength(1);
    expect(tracer.stats().processor).toMatchObject({ exported: 1, retries: 1, lost: 0 });
    await expect(ex.export([])).resolves.toBeUndefined();
  });

  it('maps status, timeouts, unfinished spans and ids purely', () => {
    const [trace] = toOtlpJsonInput();
    trace!.status = 'timeout';
    trace!.spans.push({ spanId: '00f067aa0ba902b7', parentId: null, kind: 'custom', name: 'open', startedAt: 1, endedAt: null, durationMs: null, status: 'running', attributes: { 'agentex.dropped_attributes': 3 } });
    const out = toOtlpJson([trace!]);
    const [root, open] = out.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(root!.status.code).toBe(2);
    expect(decodeAttrs(root!.attributes)['error.type']).toBe('timeout');
    expect(decodeAttrs(open!.attributes)['agentex.span.unfinished']).toBe(true);
    expect(open!.droppedAttributesCount).toBe(3);
    expect(rootSpanId('4bf92f3577b34da60000000000000000')).toBe('0000000000000001');
  });

  it('validates options naming the option', () => {
    for (const [options, option] of [
      [{ url: 'not a url' }, 'otlpExporter.url'],
      [{ url: 'ftp://x/y' }, 'otlpExporter.url'],
      [{ headers: { a: 1 } }, 'otlpExporter.headers'],
      [{ includeContent: 'yes' }, 'otlpExporter.includeContent'],
      [{ timeoutMs: 0 }, 'otlpExporter.timeoutMs'],
      [{ resourceAttributes: 5 }, 'otlpExporter.resourceAttributes'],
      [{ nope: 1 }, 'otlpExporter.nope'],
    ] as const) {
      try {
        otlpExporter(options as never);
        expect.unreachable(option);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionsError);
        expect((err as InvalidOptionsError).option).toBe(option);
      }
    }
  });
});

function toOtlpJsonInput(): TraceRecord[] {
  return [
    {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', userId: null, agent: null, startedAt: 1000, endedAt: 1010.5, durationMs: 10.5,
      status: 'success', iterations: 0, finalOutput: null, metadata: {}, spans: [] as SpanRecord[],
      droppedSpans: 0, truncated: false,
    },
  ];
}
