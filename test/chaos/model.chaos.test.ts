/**
 * Chaos scenarios 5-6: the model provider misbehaves (429 storms with Retry-After, connections reset mid-body,
 * malformed JSON) under a real agent run through guardedProvider (retry → breaker → timeout); each test asserts the
 * stored trace. Time is faked where the test would otherwise wait for Retry-After.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resetCoarseClock } from '../../src/resilience/clock.js';
import { guardedProvider } from '../../src/agent/guardedProvider.js';
import { openaiProvider } from '../../src/agent/providers/openai.js';
import { faults, llmSpans, startChaos, toolSpans, type Chaos } from './harness.js';

/** Every unhandled rejection during this file fails it: faults must surface as results, never escape. */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** Lets real I/O make progress while fake time moves on in small steps, until `promise` settles. */
async function driveFakeTime<T>(promise: Promise<T>, stepMs = 10, limitMs = 60_000): Promise<T> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let elapsed = 0; !settled && elapsed < limitMs; elapsed += stepMs) {
    await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(stepMs);
  }
  return promise;
}

describe('chaos: model provider', () => {
  let chaos: Chaos;
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    if (vi.isFakeTimers()) {
      vi.useRealTimers();
      resetCoarseClock();
    }
    await chaos?.close();
    // Give late rejections (a reset socket, an aborted body read) a chance to surface before checking.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(unhandled).toEqual([]);
  });

  describe('5. 429 storm with Retry-After', () => {
    it('waits as long as Retry-After says, then succeeds', async () => {
      chaos = await startChaos({ guard: { retry: { baseDelayMs: 100, maxDelayMs: 30_000 } } });
      const { emu } = chaos;
      emu.anthropic.enqueue(faults.rateLimited(2), faults.rateLimited(3));
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const result = await driveFakeTime(chaos.run());
      vi.useRealTimers();
      resetCoarseClock();

      expect(result.status).toBe('success');
      const at = emu.anthropic.requests.map((r) => r.receivedAt);
      expect(emu.anthropic.requests.map((r) => r.outcome)).toEqual([429, 429, 200, 200]);
      // Fake time only moves in 10 ms steps while I/O is pending: the waits are the server's, to within a few steps.
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(2_000);
      expect(at[1]! - at[0]!).toBeLessThan(2_300);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(3_000);
      expect(at[2]! - at[1]!).toBeLessThan(3_300);

      const trace = await chaos.trace(result.traceId);
      expect(trace.status).toBe('success');
      const [first] = llmSpans(trace);
      expect(first).toMatchObject({ status: 'ok', stopReason: 'tool_use', model: 'claude-emulated' });
      expect(chaos.circuits.get('anthropic')!.stats().counts).toMatchObject({ failures: 2, successes: 2 });
    });

    it('a storm that never ends fails cleanly after the retry budget, and the open circuit then fails fast', async () => {
      chaos = await startChaos({ guard: { retry: { baseDelayMs: 100, maxDelayMs: 30_000 } } });
      const { emu, circuits } = chaos;
      emu.anthropic.setHandler(() => faults.rateLimited(1));
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const result = await driveFakeTime(chaos.run());
      vi.useRealTimers();
      resetCoarseClock();

      expect(result).toMatchObject({ status: 'error', errorCode: 'HTTP_STATUS', iterations: 1 });
      expect(result.output).toBe('The run failed: anthropic HTTP 429: Rate limit exceeded');
      expect(emu.anthropic.requestCount).toBe(3); // maxAttempts
      expect(circuits.get('anthropic')!.state).toBe('open');

      const trace = await chaos.trace(result.traceId);
      expect(trace.status).toBe('error');
      expect(trace.finalOutput).toBe(result.output);
      expect(llmSpans(trace)[0]).toMatchObject({ status: 'error', error: { type: 'HttpStatusError', code: 'HTTP_STATUS' } });

      const started = performance.now();
      const again = await chaos.run();
      expect(performance.now() - started).toBeLessThan(500);
      expect(again).toMatchObject({ status: 'error', errorCode: 'CIRCUIT_OPEN' });
      expect(emu.anthropic.requestCount).toBe(3);
      expect((await chaos.trace(again.traceId)).status).toBe('error');
    });

    it('a Retry-After longer than the retry cap is not waited for: it fails at once', async () => {
      chaos = await startChaos({ guard: { retry: { baseDelayMs: 100, maxDelayMs: 10_000 } } });
      chaos.emu.anthropic.enqueue(faults.rateLimited(120));
      const started = performance.now();
      const result = await chaos.run();
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(result).toMatchObject({ status: 'error', errorCode: 'HTTP_STATUS' });
      expect(chaos.emu.anthropic.requestCount).toBe(1);
    });
  });

  describe('6. connection reset mid-body and malformed JSON', () => {
    it('a reset mid-body is transient: retried, and the run succeeds', async () => {
      chaos = await startChaos();
      const { emu, circuits } = chaos;
      emu.anthropic.enqueue(faults.reset());
      const result = await chaos.run();
      expect(result.status).toBe('success');
      expect(emu.anthropic.requests.map((r) => r.outcome)).toEqual(['reset', 200, 200]);
      expect(circuits.get('anthropic')!.stats().counts).toMatchObject({ failures: 1, successes: 2 });
      const trace = await chaos.trace(result.traceId);
      expect(llmSpans(trace).map((s) => s.status)).toEqual(['ok', 'ok']);
    });

    it('malformed JSON is not retried: the run ends with MALFORMED_RESPONSE and the trace keeps the error', async () => {
      chaos = await startChaos();
      const { emu } = chaos;
      emu.anthropic.enqueue(faults.malformed());
      const result = await chaos.run();
      expect(result).toMatchObject({ status: 'error', errorCode: 'MALFORMED_RESPONSE' });
      expect(result.output).toMatch(/anthropic returned a malformed response \(json\)/);
      expect(emu.anthropic.requestCount).toBe(1);
      const trace = await chaos.trace(result.traceId);
      expect(trace.status).toBe('error');
      expect(llmSpans(trace)[0]).toMatchObject({ status: 'error', error: { type: 'MalformedResponseError', code: 'MALFORMED_RESPONSE' } });
    });

    it('the same holds for the OpenAI-compatible provider', async () => {
      chaos = await startChaos();
      const { emu, circuits, tools, tracer } = chaos;
      emu.openai.setHandler((r) => {
        const body = r.body as { messages: { role: string }[] };
        return body.messages.some((m) => m.role === 'tool') ? { text: 'done' } : { toolCalls: [{ name: 'datetime', input: { timezone: 'UTC' } }] };
      });
      const provider = guardedProvider(openaiProvider({ apiKey: emu.keys.openai, baseUrl: emu.urls.openai, model: 'gpt-emulated' }), {
        circuits,
        retry: { baseDelayMs: 5 },
      });
      const { runAgent } = await import('../../src/agent/runAgent.js');
      emu.openai.enqueue(faults.reset());
      const ok = await runAgent({ message: 'time?', provider, tools, tracer });
      expect(ok.status).toBe('success');
      expect(emu.openai.requests.map((r) => r.outcome)).toEqual(['reset', 200, 200]);
      emu.openai.enqueue(faults.malformed('not json at all'));
      const bad = await runAgent({ message: 'time?', provider, tools, tracer });
      expect(bad).toMatchObject({ status: 'error', errorCode: 'MALFORMED_RESPONSE' });
      expect(llmSpans(await chaos.trace(bad.traceId))[0]!.error).toMatchObject({ type: 'MalformedResponseError' });
    });

    it('search providers that reset or send garbage fall back to Tavily', async () => {
      chaos = await startChaos();
      const { emu } = chaos;
      emu.exa.enqueue(faults.reset(), faults.malformed());
      chaos.query = 'reset';
      const reset = await chaos.run();
      chaos.query = 'garbage';
      const garbage = await chaos.run();
      expect([reset.status, garbage.status]).toEqual(['success', 'success']);
      const resetTool = toolSpans(await chaos.trace(reset.traceId))[0]!;
      expect(resetTool).toMatchObject({ circuit: 'tavily', status: 'ok' });
      expect(resetTool.attributes['agentex.fallback.failed']).toEqual(['exa: TypeError']);
      const garbageTool = toolSpans(await chaos.trace(garbage.traceId))[0]!;
      expect(garbageTool.attributes['agentex.fallback.failed']).toEqual(['exa: MalformedResponseError']);
      expect(chaos.circuits.get('exa')!.stats().counts.failures).toBe(2);
    });
  });
});
