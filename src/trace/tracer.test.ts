import { afterEach, describe, expect, it } from 'vitest';
import { createTracer, getDefaultTracer, setDefaultTracer, tracer as defaultApi, withTrace, type Tracer } from './Tracer.js';
import { currentSpan, currentTrace, runOutsideTrace, startSpan, withSpan } from './context.js';
import { NOOP_SPAN } from './Span.js';
import { NOOP_TRACE } from './Trace.js';
import type { TraceExporter, TraceRecord } from './model.js';
import { InvalidOptionsError } from '../common/errors.js';

function memoryExporter(): TraceExporter & { traces: TraceRecord[] } {
  const traces: TraceRecord[] = [];
  return { name: 'memory', traces, export: (batch) => (traces.push(...batch), Promise.resolve()) };
}

const tick = () => new Promise((r) => setImmediate(r));
const tracers: Tracer[] = [];
function make(options: Parameters<typeof createTracer>[0] = {}) {
  const t = createTracer({ sampleRate: 1, ...options });
  tracers.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(tracers.splice(0).map((t) => t.shutdown()));
});

describe('context', () => {
  it('1,000 interleaved concurrent traces never bleed spans into each other', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], processor: { maxQueueSize: 2048 } });
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        t.withTrace({ agent: `agent-${i}` }, async (trace) => {
          for (let step = 0; step < 3; step++) {
            await withSpan('iteration', `it-${i}-${step}`, async (span) => {
              await new Promise((r) => setTimeout(r, (i * 7 + step) % 5));
              span.setAttribute('owner', i);
              await withSpan('tool', `tool-${i}-${step}`, async () => {
                await tick();
                expect(currentTrace()).toBe(trace);
              });
            });
          }
        }),
      ),
    );
    await t.forceFlush();
    expect(exp.traces).toHaveLength(1000);
    for (const rec of exp.traces) {
      const i = Number(rec.agent!.slice(6));
      expect(rec.spans).toHaveLength(6);
      for (const s of rec.spans) expect(s.name).toMatch(new RegExp(`-${i}-\\d$`));
      const byId = new Map(rec.spans.map((s) => [s.spanId, s]));
      for (const s of rec.spans.filter((x) => x.kind === 'tool')) expect(byId.get(s.parentId!)!.kind).toBe('iteration');
    }
    expect(currentTrace()).toBe(NOOP_TRACE);
  });

  it('restores the previous context even when ending or exporting the trace throws', async () => {
    const throwing: TraceExporter = {
      name: 'throws',
      export: () => {
        throw new Error('exporter exploded synchronously');
      },
    };
    const t = make({ exporters: [throwing], processor: { maxBatchSize: 1, maxAttempts: 1 } });
    t.onTraceEnd(() => {
      throw new Error('listener exploded');
    });
    await t.withTrace('outer', async (outer) => {
      const result = await t.withTrace('inner', async () => 42);
      expect(result).toBe(42);
      expect(currentTrace()).toBe(outer);
      const sync = t.withTrace('inner-sync', () => 'ok');
      expect(sync).toBe('ok');
      expect(currentTrace()).toBe(outer);
    });
    expect(currentTrace()).toBe(NOOP_TRACE);
    await t.forceFlush();
    expect(t.stats().processor.lost).toBe(3);
    // A failure inside the tracer itself is counted, never thrown into the traced code.
    (t as unknown as { processor: { onTraceEnd(): void } }).processor.onTraceEnd = () => {
      throw new Error('processor exploded');
    };
    await expect(t.withTrace('x', async () => 'still fine')).resolves.toBe('still fine');
    expect(currentTrace()).toBe(NOOP_TRACE);
    expect(t.stats().internalErrors).toBe(1);
  });

  it('records errors and rethrows them unchanged; timeouts get status timeout', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], sampleRate: 0 });
    const boom = new TypeError('bad input');
    await expect(
      t.withTrace('a', () => withSpan('tool', 'search', async () => Promise.reject(boom))),
    ).rejects.toBe(boom);
    expect(() => t.withTrace('b', () => withSpan('custom', 'sync', () => { throw boom; }))).toThrow(boom);
    const timeoutErr = Object.assign(new Error('took too long'), { name: 'TimeoutError' });
    await expect(t.withTrace('c', async () => { throw timeoutErr; })).rejects.toBe(timeoutErr);
    await t.withTrace('d', async () => 'ok');
    await t.forceFlush();
    expect(exp.traces.map((r) => [r.agent, r.status, r.keepReason])).toEqual([
      ['a', 'error', 'error'],
      ['b', 'error', 'error'],
      ['c', 'timeout', 'timeout'],
    ]);
    expect(exp.traces[0]!.spans[0]).toMatchObject({ status: 'error', error: { type: 'TypeError', message: 'bad input' } });
    expect(t.stats()).toMatchObject({ started: 4, ended: 4, kept: 3, sampledOut: 1 });
  });

  it('hands out no-op spans outside a trace, past the span cap and after the trace ended', async () => {
    expect(currentSpan()).toBe(NOOP_SPAN);
    expect(startSpan('tool', 'x')).toBe(NOOP_SPAN);
    const r = withSpan('tool', 'x', (span) => {
      expect(span).toBe(NOOP_SPAN);
      span.setInput('a').setOutput('b').setAttribute('k', 1).setAttributes({ a: 1 }).recordError(new Error('x'))
        .setModel('m').setUsage({ inputTokens: 1, outputTokens: 1 }).setStopReason('s').setTool('t').forceKeep().end();
      return 7;
    });
    expect(r).toBe(7);
    expect(NOOP_SPAN.isRecording).toBe(false);
    NOOP_TRACE.setUserId(1).setAgent('a').setMetadata('k', 1).setFinalOutput('x').setIterations(1).recordError(new Error('x')).forceKeep().end();
    expect(NOOP_TRACE.addIteration()).toBe(0);
    expect(NOOP_TRACE.startSpan('tool', 'x')).toBe(NOOP_SPAN);

    const exp = memoryExporter();
    const t = make({ exporters: [exp], bounds: { maxSpans: 3 } });
    let late: ReturnType<typeof startSpan> | undefined;
    await t.withTrace('capped', async (trace) => {
      for (let i = 0; i < 10; i++) withSpan('custom', `s${i}`, (span) => span.setAttribute('i', i));
      expect(startSpan('custom', 'over')).toBe(NOOP_SPAN);
      late = trace.startSpan('custom', 'ok?');
    });
    expect(late).toBe(NOOP_SPAN);
    const trace = t.startTrace('after');
    trace.end();
    expect(trace.startSpan('custom', 'late')).toBe(NOOP_SPAN);
    await t.forceFlush();
    expect(exp.traces[0]).toMatchObject({ droppedSpans: 9, truncated: true });
    expect(exp.traces[0]!.spans).toHaveLength(3);
    expect(t.stats().droppedSpans).toBe(9);
  });

  it('runOutsideTrace leaves the trace', async () => {
    const t = make();
    await t.withTrace('a', async () => {
      expect(runOutsideTrace(() => currentTrace())).toBe(NOOP_TRACE);
    });
  });
});

describe('recording, redaction and bounds', () => {
  it('records every field, redacts before cutting, and marks cuts', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], metadata: { serviceName: 'svc', env: { AGENTEX_LABEL_REGION: 'eu' } } });
    const key = `sk-${'Ab3'.repeat(16)}`;
    await t.withTrace({ agent: 'researcher', userId: 42, metadata: { tenant: 't1', apiKey: 'zzz' } }, async (trace) => {
      trace.addIteration();
      await withSpan('llm', 'call', async (span) => {
        span.setModel('claude-x').setUsage({ inputTokens: 10, outputTokens: 5 }).setStopReason('end_turn');
        span.setInput({ messages: [{ role: 'user', content: `use ${key} and ${'long '.repeat(100)}` }] });
        span.setOutput('answer');
        span.setAttributes({ 'http.request.header.authorization': 'Bearer abc', n: 1, ok: true, list: ['a', 'b'], nums: [1, 2], nan: NaN });
      });
      await withSpan('tool', 'web_search', async (span) => {
        span.setTool('web_search', 'exa-breaker');
        span.setInput(`q=cats password=hunter2`);
        span.setOutput('r'.repeat(2000));
      });
      withSpan('custom', 'misc', (span) => span.setModel('m').setTool('t', 'c').setUsage({ inputTokens: 1, outputTokens: 2 }).setStopReason('x'));
      const open = startSpan('retrieval', 'never-ended');
      open.setAttribute('x', 1);
      trace.setFinalOutput({ answer: `done ${key}` });
    });
    await t.forceFlush();
    const rec = exp.traces[0]!;
    const json = JSON.stringify(rec);
    expect(json).not.toContain(key);
    expect(json).not.toContain('hunter2');
    expect(json).not.toContain('zzz');
    expect(rec).toMatchObject({ agent: 'researcher', userId: 42, iterations: 1, status: 'success', keepReason: 'rate', metadata: { tenant: 't1', apiKey: '[REDACTED:apikey]', service: { serviceName: 'svc', labels: { region: 'eu' } } } });
    expect(rec.traceId).toMatch(/^[0-9a-f]{32}$/);
    const [llm, tool, misc, open] = rec.spans;
    expect(llm).toMatchObject({ kind: 'llm', model: 'claude-x', usage: { inputTokens: 10, outputTokens: 5 }, stopReason: 'end_turn', output: 'answer', status: 'ok' });
    expect(llm!.attributes).toEqual({ 'http.request.header.authorization': '[REDACTED:authorization]', n: 1, ok: true, list: ['a', 'b'], nums: [1, 2], nan: 'NaN' });
    const content = (llm!.input as { messages: { content: string }[] }).messages[0]!.content;
    expect(content).toMatch(/^use \[REDACTED:openai_key\] and long/);
    expect(content).toMatch(/…\[truncated \d+ chars\]$/);
    expect(tool).toMatchObject({ kind: 'tool', toolName: 'web_search', circuit: 'exa-breaker', input: 'q=cats password=[REDACTED:password]' });
    // A cut inside one long token-like run removes the whole partial run: half a secret never survives a cut.
    expect(tool!.output).toBe('…[truncated 2000 chars]');
    expect(misc!.attributes).toMatchObject({ 'llm.model': 'm', 'tool.name': 't', 'tool.circuit': 'c', 'llm.usage.input_tokens': 1, 'llm.stop_reason': 'x' });
    expect(open).toMatchObject({ status: 'running', endedAt: null, durationMs: null });
    expect(rec.finalOutput).toBe('{"answer":"done [REDACTED:openai_key]"}');
    expect(rec.spans.every((s) => /^[0-9a-f]{16}$/.test(s.spanId))).toBe(true);
  });

  it('cuts a trace to the byte cap instead of dropping it', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], bounds: { maxTraceBytes: 8192, maxInputChars: 1000, maxAttributeChars: 1000 } });
    await t.withTrace('big', async () => {
      for (let i = 0; i < 40; i++) {
        withSpan('custom', `s${i}`, (span) => span.setInput(`word `.repeat(150)).setAttribute('a', 'b '.repeat(400)));
      }
    });
    await t.forceFlush();
    const rec = exp.traces[0]!;
    expect(Buffer.byteLength(JSON.stringify(rec))).toBeLessThanOrEqual(8192);
    expect(rec.truncated).toBe(true);
    expect(rec.spans.length + rec.droppedSpans).toBe(40);
    expect(rec.spans[0]!.input).toMatch(/^…\[truncated \d+ chars\]$/);
  });

  it('limits attributes per span and ignores setters after end', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], bounds: { maxAttributes: 2 } });
    await t.withTrace('a', async () => {
      const span = startSpan('custom', 's');
      span.setAttribute('a', 1).setAttribute('b', 2).setAttribute('c', 3).setAttribute('d', null);
      span.end();
      span.setAttribute('late', 1).setInput('late').setOutput('late');
      span.end();
      const bad = startSpan('nonsense' as never, 'weird');
      bad.end();
    });
    await t.forceFlush();
    expect(exp.traces[0]!.spans[0]!.attributes).toEqual({ a: 1, b: 2, 'agentex.dropped_attributes': 1 });
    expect(exp.traces[0]!.spans[0]!.input).toBeUndefined();
    expect(exp.traces[0]!.spans[1]).toMatchObject({ kind: 'custom', attributes: { 'agentex.invalid_kind': 'nonsense' } });
  });

  it('keeps the last value of a repeated attribute key, also past the indexed size, and stringifies odd keys', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], bounds: { maxAttributes: 30 } });
    await t.withTrace('a', async () => {
      const span = startSpan('custom', 's');
      for (let round = 0; round < 2; round++) for (let i = 0; i < 40; i++) span.setAttribute(`k${i}`, i * 10 + round);
      span.setAttribute(7 as never, 'seven');
      span.end();
    });
    await t.forceFlush();
    const attrs = exp.traces[0]!.spans[0]!.attributes;
    expect(attrs.k0).toBe(1);
    expect(attrs.k29).toBe(291);
    expect(attrs.k30).toBeUndefined();
    // 10 keys past the cap twice, plus the odd key: every refused key is counted.
    expect(attrs['agentex.dropped_attributes']).toBe(21);
    expect(Object.keys(attrs)).toHaveLength(31);
  });

  it('renders hostile values in inputs, outputs and metadata without throwing', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await t.withTrace({ agent: 'a', metadata: { cyclic, n: 1n } }, async (trace) => {
      withSpan('tool', 't', (span) => span.setInput({ cyclic, fn: () => 1, buf: Buffer.alloc(10) }).setOutput(5n).setAttribute('obj', { a: 1 } as never));
      trace.setFinalOutput(cyclic).setMetadata('big', 'x'.repeat(10_000)).setUserId({ weird: true } as never).setIterations(-1).setIterations(3);
      trace.recordError('string thrown');
      trace.end('success');
    });
    await t.forceFlush();
    const rec = exp.traces[0]!;
    expect(rec.spans[0]).toMatchObject({ input: { cyclic: { self: '[Circular]' }, fn: '[Function fn]', buf: '[Buffer 10 bytes]' }, output: '5n', attributes: { obj: '{"a":1}' } });
    expect(rec.metadata).toMatchObject({ cyclic: { self: '[Circular]' }, n: '1n', error: { type: 'string', message: 'string thrown' } });
    expect((rec.metadata.big as string).length).toBeLessThan(600);
    expect(rec).toMatchObject({ iterations: 3, status: 'success', finalOutput: '{"self":"[Circular]"}', userId: '{"weird":true}' });
  });
});

describe('tracer options, sampling and lifecycle', () => {
  it('validates options naming the option', () => {
    const cases: [unknown, string][] = [
      [{ sampleRate: 1.5 }, 'tracer.sampleRate'],
      [{ bounds: { maxSpans: -1 } }, 'tracer.bounds.maxSpans'],
      [{ unknown: 1 }, 'tracer.unknown'],
      [{ enabled: 'yes' }, 'tracer.enabled'],
      [{ exporters: [{}] }, 'tracer.exporters[0]'],
      [{ processor: { maxQueueSize: 0 } }, 'tracer.processor.maxQueueSize'],
      [{ processor: { exporters: [] } }, 'tracer.processor.exporters'],
      [{ processor: 5 }, 'tracer.processor'],
      [{ redaction: { keys: 5 } }, 'tracer.redaction.keys'],
      [{ metadata: { serviceName: 5 } }, 'tracer.metadata.serviceName'],
      [{ processor: { maxBatchSize: 10, maxQueueSize: 5 } }, 'tracer.processor.maxBatchSize'],
    ];
    for (const [options, option] of cases) {
      let caught: unknown;
      try {
        createTracer(options as never);
      } catch (err) {
        caught = err;
      }
      expect(caught, option).toBeInstanceOf(InvalidOptionsError);
      expect((caught as InvalidOptionsError).option, JSON.stringify(options)).toBe(option);
    }
    const t = make();
    expect(() => t.startTrace({ agnt: 'x' } as never)).toThrow(/agnt/);
    expect(() => t.startTrace({ metadata: 5 } as never)).toThrow(InvalidOptionsError);
  });

  it('samples at trace end: forced and slow traces are kept, sampled-out ones still count', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], sampleRate: 0, slowThresholdMs: 0 });
    await t.withTrace('slow', async () => 1);
    const t2 = make({ exporters: [exp], sampleRate: 0 });
    const events: unknown[] = [];
    const off = t2.onTraceEnd((e) => events.push(e));
    await t2.withTrace('forced', async () => withSpan('custom', 'x', (s) => s.forceKeep()));
    await t2.withTrace('dropped', async () => 1);
    off();
    await t2.withTrace('unobserved', async () => 1);
    await t.forceFlush();
    await t2.forceFlush();
    expect(exp.traces.map((r) => r.keepReason)).toEqual(['slow', 'forced']);
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ agent: 'dropped', kept: false, keepReason: null, status: 'success' });
    expect(t2.stats()).toMatchObject({ ended: 3, kept: 1, sampledOut: 2 });
  });

  it('continues a given trace id, and a disabled tracer records nothing', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    await t.withTrace({ traceId: id, skill: 'summarize' }, async (trace) => expect(trace.traceId).toBe(id));
    await t.withTrace({ traceId: 'bad' }, async (trace) => expect(trace.traceId).not.toBe('bad'));
    const off = make({ enabled: false, exporters: [exp] });
    await off.withTrace('x', async (trace) => expect(trace).toBe(NOOP_TRACE));
    await t.forceFlush();
    expect(exp.traces[0]).toMatchObject({ traceId: id, agent: 'summarize' });
    expect(off.stats().started).toBe(0);
    expect(t.redact('Bearer abcdefghijkl')).toBe('Bearer [REDACTED:bearer]');
  });

  it('shutdown flushes, then later traces are no-ops and counted', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    await t.withTrace('a', async () => 1);
    await t.shutdown();
    expect(exp.traces).toHaveLength(1);
    expect(t.startTrace('late')).toBe(NOOP_TRACE);
    expect(t.stats().rejectedAfterShutdown).toBe(1);
  });

  it('the default tracer is lazy and replaceable', async () => {
    const exp = memoryExporter();
    const mine = make({ exporters: [exp] });
    const before = getDefaultTracer();
    expect(setDefaultTracer(mine)).toBe(before);
    await withTrace('via-default', async () => defaultApi.withSpan('custom', 'x', () => defaultApi.currentSpan().setAttribute('a', 1)));
    defaultApi.startTrace('manual').end();
    await defaultApi.forceFlush();
    expect(exp.traces.map((r) => r.agent)).toEqual(['via-default', 'manual']);
    expect(defaultApi.stats().ended).toBe(2);
    expect(() => setDefaultTracer({} as never)).toThrow(InvalidOptionsError);
    setDefaultTracer(before);
    await before.shutdown();
    await defaultApi.shutdown();
  });
});
