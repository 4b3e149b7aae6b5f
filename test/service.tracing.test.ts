/**
 * The service's traces out and through, end to end on 127.0.0.1: `POST /api/agent/run` joins a caller's W3C trace
 * (headers written and read by the official OpenTelemetry propagator), answers with the run's `traceparent`, forwards
 * kept runs to a collector (`AGENTEX_OTLP_ENDPOINT` / `AGENTEX_OTLP_HEADERS`) with GenAI attributes and no secret, and
 * writes one log line per run, kept or sampled out, without the message or the answer; and failing store writes
 * (broken inside SQLite on the service's own file while its ping still answers) show on /health, /metrics and in the log.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { context, propagation, ROOT_CONTEXT, trace as otelTrace, TraceFlags, type TextMapGetter } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type EmulatorSet } from '../src/emulators/index.js';
import { startService, type RunningService } from '../src/server/service.js';
import { ingest } from './ops/support.js';
import type { OtlpTraceRequest } from '../src/trace/exporters/otlp.js';
import { decodeAttrs as attrs, officialRoundTrip } from '../src/trace/testing/officialOtlp.js';

const API = `api-${'t'.repeat(30)}`;
const ADMIN = `admin-${'u'.repeat(30)}`;
const COLLECTOR_KEY = `collector-key-${'c0ffee'.repeat(5)}`;
const USER_SECRET = `sk-ant-api03-${'Q7x'.repeat(12)}`;
/** With AGENTEX_SAMPLE_RATE=0.5 a success is kept when its trace id's last 13 hex digits fall in the lower half. */
const KEPT_TRACE = '4bf92f3577b34da6a000000000000001';
const SAMPLED_OUT_TRACE = '4bf92f3577b34da6afffffffffffffff';

const provider = new NodeTracerProvider();
const getter: TextMapGetter<Record<string, string>> = { keys: (c) => Object.keys(c), get: (c, k) => c[k] };

/** The `traceparent` an OpenTelemetry-instrumented caller sends for its span in trace `traceId`. */
function callerHeader(traceId: string): { header: string; spanId: string } {
  const span = otelTrace.getTracer('caller').startSpan('call agentex', {}, ROOT_CONTEXT);
  const spanId = span.spanContext().spanId;
  span.end();
  const carrier: Record<string, string> = {};
  propagation.inject(otelTrace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED }), carrier);
  return { header: carrier.traceparent!, spanId };
}

const collected: { path: string; headers: http.IncomingHttpHeaders; body: OtlpTraceRequest }[] = [];
let collector: http.Server;
let emu: EmulatorSet;
let svc: RunningService;
let dir: string;
let logText = '';

async function run(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${svc.url}/api/agent/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return { traceparent: res.headers.get('traceparent'), body: (await res.json()) as { trace_id: string; status: string; output: string } };
}

beforeAll(async () => {
  provider.register();
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      collected.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraceRequest });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  emu = await startEmulators();
  dir = mkdtempSync(path.join(tmpdir(), 'agentex-tracing-'));
  const logs = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  svc = await startService({
    env: {
      ...emu.env,
      OPENAI_API_KEY: '',
      AGENTEX_API_TOKEN: API,
      AGENTEX_ADMIN_TOKEN: ADMIN,
      AGENTEX_SAMPLE_RATE: '0.5',
      AGENTEX_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      AGENTEX_OTLP_HEADERS: `x-api-key=${COLLECTOR_KEY}, x-team=agents%2Fsupport`,
    },
    flags: { '--port': '0', '--sqlite-path': path.join(dir, 'traces.db') },
    logger: pino({ level: 'info' }, logs),
  });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await emu?.close();
  await new Promise<void>((resolve) => collector?.close(() => resolve()));
  await provider.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('traces out and through', () => {
  it("joins the caller's trace, answers with the run's traceparent, and forwards the run to the collector with GenAI attributes and no secret", async () => {
    emu.anthropic.enqueue({ text: 'Refunds take 5 days.', usage: { inputTokens: 42, outputTokens: 7 } });
    const caller = callerHeader(KEPT_TRACE);
    const { traceparent, body } = await run({ message: `refund? my key is ${USER_SECRET}`, user_id: `alice ${USER_SECRET}`, agent: 'support' }, { traceparent: caller.header });
    expect(body.trace_id).toBe(KEPT_TRACE);
    const back = otelTrace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: traceparent! }, getter))!;
    expect(back.traceId).toBe(KEPT_TRACE);
    expect(back.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(back.spanId).not.toBe(caller.spanId);

    await svc.tracer.forceFlush();
    const sent = collected.filter((r) => JSON.stringify(r.body).includes(KEPT_TRACE));
    expect(sent).toHaveLength(1);
    const { path: urlPath, headers, body: otlp } = sent[0]!;
    expect(urlPath).toBe('/v1/traces');
    expect(headers['x-api-key']).toBe(COLLECTOR_KEY);
    expect(headers['x-team']).toBe('agents/support');
    // Exactly what the official OpenTelemetry SDK would send for these spans (JSON and protobuf serializers).
    expect(officialRoundTrip(otlp)).toEqual(otlp);
    const spans = otlp.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const root = spans.find((s) => s.name === 'invoke_agent support')!;
    expect(root.spanId).toBe(back.spanId);
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(attrs(root.attributes)).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support' });
    const chat = spans.find((s) => s.name.startsWith('chat '))!;
    expect(attrs(chat.attributes)).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 42, 'gen_ai.usage.output_tokens': 7 });
    expect(typeof attrs(chat.attributes)['gen_ai.request.model']).toBe('string');
    for (const s of spans) expect(s.traceId).toBe(KEPT_TRACE);
    const text = JSON.stringify(otlp);
    expect(text).not.toContain(USER_SECRET);
    expect(text).toContain('alice');

    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/^agentex_traces_forwarded_total\{outcome="exported"\} [1-9]/m);
    expect(metrics).toMatch(/^agentex_traces_forwarded_total\{outcome="lost"\} 0$/m);
    expect(metrics).not.toContain(COLLECTOR_KEY);

    // The stored trace is the same run, joined to the same caller.
    const stored = await svc.store.get(KEPT_TRACE);
    expect(stored?.metadata.traceContext).toEqual({ rootSpanId: back.spanId, parentSpanId: caller.spanId });
  }, 30_000);

  it("forwards only the service's own runs: traces ingested from other agents are stored, not sent on", async () => {
    const foreign = '5bf92f3577b34da6a000000000000009';
    await ingest(svc.url, API, [{ traceId: foreign, agent: 'elsewhere', error: true, spans: 2 }]);
    await svc.ingest.flush();
    await svc.tracer.forceFlush();
    expect(await svc.store.get(foreign)).not.toBeNull();
    expect(collected.some((r) => JSON.stringify(r.body).includes(foreign))).toBe(false);
  });

  it('ignores a malformed traceparent (the run starts its own trace) and still answers with one', async () => {
    emu.anthropic.enqueue({ text: 'ok' });
    const { traceparent, body } = await run({ message: 'hello' }, { traceparent: `00-${KEPT_TRACE.toUpperCase()}-00f067aa0ba902b7-01` });
    expect(body.status).toBe('success');
    expect(body.trace_id).not.toBe(KEPT_TRACE);
    expect(traceparent).toMatch(new RegExp(`^00-${body.trace_id}-${body.trace_id.slice(16)}-0[01]$`));
  });

  it('logs one line per run, kept or sampled out, with the run outcome and never the message, the answer or a secret', async () => {
    emu.anthropic.enqueue({ text: 'The answer nobody should log.', usage: { inputTokens: 11, outputTokens: 3 } });
    const { traceparent, body } = await run({ message: 'a question nobody should log', user_id: 'bob', agent: 'quiet' }, { traceparent: callerHeader(SAMPLED_OUT_TRACE).header });
    expect(body.trace_id).toBe(SAMPLED_OUT_TRACE);
    expect(traceparent).toMatch(/-00$/);
    await svc.tracer.forceFlush();
    expect(await svc.store.get(SAMPLED_OUT_TRACE)).toBeNull();
    expect(collected.some((r) => JSON.stringify(r.body).includes(SAMPLED_OUT_TRACE))).toBe(false);

    const lines = logText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const runs = lines.filter((l) => l.msg === 'agent run');
    expect(runs.length).toBe(3);
    const quiet = runs.find((l) => l.traceId === body.trace_id)!;
    expect(quiet).toMatchObject({ level: 30, agent: 'quiet', userId: 'bob', status: 'success', iterations: 1, inputTokens: 11, outputTokens: 3, kept: false });
    expect(typeof quiet.durationMs).toBe('number');
    expect(runs.find((l) => l.traceId === KEPT_TRACE)).toMatchObject({ agent: 'support', kept: true, inputTokens: 42 });
    expect(logText).not.toContain('nobody should log');
    // What is next to the SQLite file was said at start (before the file was opened).
    const files = lines.find((l) => l.msg === 'sqlite files')!;
    expect(files.path).toBe(path.join(dir, 'traces.db'));
    expect(typeof files.freeBytes).toBe('number');
    expect(logText).not.toContain(COLLECTOR_KEY);
    expect(logText).not.toContain(USER_SECRET);
  });

  it('shows failing store writes on /health, /metrics and in the log while the store still answers pings, and recovers by itself', async () => {
    const health = async () => (await (await fetch(`${svc.url}/health`)).json()) as { status: string; store: string };
    const metric = async (name: string) => {
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    expect(await health()).toMatchObject({ status: 'healthy', store: 'ok' });
    expect(await metric('agentex_store_write_errors_total')).toBe(0);

    // Writes start failing inside SQLite on the service's own file; reads (the ping) keep working.
    const saboteur = new Database(path.join(dir, 'traces.db'));
    saboteur.exec("CREATE TRIGGER break_writes BEFORE INSERT ON traces BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;");
    emu.anthropic.enqueue({ text: 'not stored' });
    await run({ message: 'one' }, { traceparent: callerHeader('4bf92f3577b34da6a000000000000002').header });
    await svc.tracer.forceFlush(); // the processor's three attempts all fail
    expect(await metric('agentex_store_write_errors_total')).toBe(3);
    expect(await metric('agentex_store_up')).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // past the /health ping cache
    expect(await health()).toMatchObject({ status: 'degraded', store: 'write_failing' });
    expect(logText).toMatch(/"level":50[^\n]*"code":"SQLITE_CONSTRAINT_TRIGGER"[^\n]*trace store writes failing/);

    saboteur.exec('DROP TRIGGER break_writes');
    saboteur.close();
    emu.anthropic.enqueue({ text: 'stored again' });
    await run({ message: 'two' }, { traceparent: callerHeader('4bf92f3577b34da6a000000000000003').header });
    await svc.tracer.forceFlush();
    expect(await svc.store.get('4bf92f3577b34da6a000000000000003')).not.toBeNull();
    expect(await metric('agentex_store_up')).toBe(1);
    expect(await metric('agentex_store_write_errors_total')).toBe(3);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await health()).toMatchObject({ status: 'healthy', store: 'ok' });
    expect(logText).toContain('trace store writes recovered');
  }, 60_000);
});
