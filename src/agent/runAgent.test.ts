import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTracer, type Tracer } from '../trace/Tracer.js';
import type { TraceExporter, TraceRecord } from '../trace/model.js';
import { createToolRegistry } from '../tools/registry.js';
import { defineTool, toolOk } from '../tools/types.js';
import { scriptedProvider } from './providers/scripted.js';
import type { ChatMessage } from './providers/types.js';
import { runAgent, type ConversationMemory } from './runAgent.js';

function capture(): { exporter: TraceExporter; traces: TraceRecord[] } {
  const traces: TraceRecord[] = [];
  return { traces, exporter: { name: 'capture', export: async (batch) => void traces.push(...batch) } };
}

const echo = defineTool({
  name: 'echo',
  description: 'Echoes its text',
  input: z.object({ text: z.string() }),
  execute: ({ text }) => toolOk({ echoed: text }),
});
const slow = defineTool({
  name: 'slow',
  description: 'Never finishes unless aborted',
  input: z.object({}),
  timeoutMs: 50,
  execute: (_input, { signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
});
const boom = defineTool({ name: 'boom', description: 'Throws', input: z.object({}), execute: () => Promise.reject(new RangeError('kaput')) });

describe('runAgent', () => {
  let tracer: Tracer;
  afterEach(async () => tracer?.shutdown());

  function setup() {
    const sink = capture();
    tracer = createTracer({ exporters: [sink.exporter], sampleRate: 1, processor: { scheduleDelayMs: 1 } });
    return sink;
  }

  it('runs tool calls in parallel, feeds results back, and traces iterations, llm and tool spans', async () => {
    const sink = setup();
    const provider = scriptedProvider([
      { toolCalls: [{ name: 'echo', input: { text: 'a' } }, { name: 'echo', input: { text: 'b' } }], usage: { inputTokens: 10, outputTokens: 2 } },
      (req) => ({ content: `done: ${req.messages.filter((m) => m.role === 'tool').map((m) => m.content).join(' ')}`, usage: { inputTokens: 20, outputTokens: 5 } }),
    ]);
    const result = await runAgent({ message: 'hi', provider, tools: createToolRegistry({ tools: [echo] }), tracer, agent: 'tester', userId: 7 });
    expect(result.status).toBe('success');
    expect(result.iterations).toBe(2);
    expect(result.output).toBe('done: {"echoed":"a"} {"echoed":"b"}');
    expect(result.usage).toEqual({ inputTokens: 30, outputTokens: 7 });
    await tracer.forceFlush();
    const trace = sink.traces.find((t) => t.traceId === result.traceId)!;
    expect(trace.status).toBe('success');
    expect(trace.agent).toBe('tester');
    expect(trace.userId).toBe(7);
    const kinds = trace.spans.map((s) => s.kind);
    expect(kinds.filter((k) => k === 'iteration')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'llm')).toHaveLength(2);
    const tools = trace.spans.filter((s) => s.kind === 'tool');
    expect(tools).toHaveLength(2);
    expect(tools.every((s) => s.kind === 'tool' && s.toolName === 'echo' && s.status === 'ok')).toBe(true);
    const llm = trace.spans.find((s) => s.kind === 'llm');
    expect(llm?.kind === 'llm' && llm.usage).toEqual({ inputTokens: 10, outputTokens: 2 });
  });

  it("joins a caller's trace when given one, and returns the run's traceparent", async () => {
    const sink = setup();
    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' };
    const result = await runAgent({ message: 'hi', provider: scriptedProvider([{ content: 'ok' }]), tracer, parent });
    expect(result.traceId).toBe(parent.traceId);
    await tracer.forceFlush();
    const ctx = sink.traces[0]!.metadata.traceContext as { rootSpanId: string; parentSpanId: string };
    expect(ctx.parentSpanId).toBe(parent.parentSpanId);
    expect(result.traceparent).toBe(`00-${parent.traceId}-${ctx.rootSpanId}-01`);
    const own = await runAgent({ message: 'hi', provider: scriptedProvider([{ content: 'ok' }]), tracer });
    expect(own.traceId).not.toBe(parent.traceId);
    expect(own.traceparent).toBe(`00-${own.traceId}-${own.traceId.slice(16)}-01`);
  });

  it('answers unknown tools, invalid arguments, timeouts and thrown errors with error results, not crashes', async () => {
    const sink = setup();
    const provider = scriptedProvider([
      {
        toolCalls: [
          { name: 'nope', input: {} },
          { name: 'echo', input: { text: 3 } },
          { name: 'slow', input: {} },
          { name: 'boom', input: {} },
        ],
      },
      (req) => ({ content: req.messages.filter((m): m is Extract<ChatMessage, { role: 'tool' }> => m.role === 'tool').map((m) => `${m.isError ? 'E' : 'ok'}:${JSON.parse(m.content).error.code}`).join(',') }),
    ]);
    const result = await runAgent({ message: 'go', provider, tools: createToolRegistry({ tools: [echo, slow, boom] }), tracer });
    expect(result.status).toBe('success');
    expect(result.output).toBe('E:UNKNOWN_TOOL,E:INVALID_INPUT,E:TIMEOUT,E:TOOL_FAILED');
    await tracer.forceFlush();
    const tools = sink.traces[0]!.spans.filter((s) => s.kind === 'tool');
    expect(tools.map((s) => s.error?.code)).toEqual(['UNKNOWN_TOOL', 'INVALID_INPUT', 'TIMEOUT', 'TOOL_FAILED']);
  });

  it('stops with status timeout after maxIterations when the model never stops calling tools, and keeps the trace', async () => {
    const sink = setup();
    const provider = scriptedProvider([{ toolCalls: [{ name: 'echo', input: { text: 'again' } }] }], { onExhausted: 'repeat-last' });
    const result = await runAgent({ message: 'loop', provider, tools: createToolRegistry({ tools: [echo] }), tracer });
    expect(result.status).toBe('timeout');
    expect(result.iterations).toBe(5);
    expect(result.output).toMatch(/Stopped after 5 iterations/);
    await tracer.forceFlush();
    expect(sink.traces[0]!.status).toBe('timeout');
  });

  it('returns status error with the provider failure, and cancellation with code CANCELLED', async () => {
    setup();
    const failing = scriptedProvider([new Error('upstream 503')]);
    const failed = await runAgent({ message: 'x', provider: failing, tracer });
    expect(failed.status).toBe('error');
    expect(failed.output).toMatch(/upstream 503/);

    const controller = new AbortController();
    const hanging = scriptedProvider([{ content: 'late', delayMs: 60_000 }]);
    const pending = runAgent({ message: 'x', provider: hanging, tracer, signal: controller.signal });
    controller.abort(new Error('client went away'));
    const cancelled = await pending;
    expect(cancelled.status).toBe('error');
    expect(cancelled.errorCode).toBe('CANCELLED');
  });

  it('reports cancellation, not timeout, when the signal aborts during the last iteration\'s tools', async () => {
    setup();
    const controller = new AbortController();
    const waits = defineTool({
      name: 'waits',
      description: 'Waits until aborted',
      input: z.object({}),
      execute: (_input, { signal }) => {
        queueMicrotask(() => controller.abort(new Error('client went away')));
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
      },
    });
    const provider = scriptedProvider([{ toolCalls: [{ name: 'waits', input: {} }] }]);
    const result = await runAgent({ message: 'x', provider, tools: createToolRegistry({ tools: [waits] }), tracer, maxIterations: 1, signal: controller.signal });
    expect(result).toMatchObject({ status: 'error', errorCode: 'CANCELLED', iterations: 1 });
  });

  it('loads and saves the conversation of a user', async () => {
    setup();
    const store = new Map<string | number, ChatMessage[]>();
    const memory: ConversationMemory = {
      load: async (u) => store.get(u) ?? [],
      append: async (u, msgs) => void store.set(u, [...(store.get(u) ?? []), ...msgs]),
    };
    const provider = scriptedProvider([{ content: 'first' }, (req) => ({ content: `saw ${req.messages.length} messages` })]);
    await runAgent({ message: 'one', provider, tracer, userId: 'u', memory });
    const second = await runAgent({ message: 'two', provider, tracer, userId: 'u', memory });
    expect(second.output).toBe('saw 3 messages');
    expect(store.get('u')).toHaveLength(4);
  });

  it('rejects programming errors in its options', async () => {
    setup();
    const provider = scriptedProvider([{ content: 'x' }]);
    await expect(runAgent({ message: '', provider, tracer })).rejects.toThrow(/message/);
    await expect(runAgent({ message: 'x', provider, tracer, maxIterations: 0 })).rejects.toThrow(/maxIterations/);
  });
});
