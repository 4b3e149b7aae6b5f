/**
 * Chaos scenarios 1-4: the search providers misbehave under a real agent run (Anthropic emulator as the model, the
 * real web_search tool with its breakers, a real SQLite trace store); each test asserts what the stored trace says.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SEARCH_CIRCUIT_OPTIONS } from '../../src/tools/webSearch.js';
import { faults, fakeSecret, llmSpans, spansOf, startChaos, toolSpans, type Chaos } from './harness.js';

describe('chaos: search providers', () => {
  let chaos: Chaos;
  afterEach(async () => {
    vi.useRealTimers();
    await chaos?.close();
  });

  describe('1. Exa returns 500s', () => {
    beforeEach(async () => {
      chaos = await startChaos();
    });

    it('answers from Tavily, opens Exa after 3 failures, sends Exa nothing while open, and closes on one probe after the cooldown', async () => {
      const { emu, circuits } = chaos;
      emu.exa.setHandler(() => faults.status(500, 'exa is down'));
      const secret = fakeSecret();

      const results = [];
      for (let i = 1; i <= SEARCH_CIRCUIT_OPTIONS.threshold; i++) {
        chaos.query = `outage ${i} token ${secret}`;
        results.push(await chaos.run());
      }
      expect(results.map((r) => r.status)).toEqual(['success', 'success', 'success']);
      expect(results.every((r) => r.output.startsWith('Found:'))).toBe(true);
      expect(emu.exa.requestCount).toBe(3);
      expect(emu.tavily.requestCount).toBe(3);
      expect(circuits.get('exa')!.state).toBe('open');
      expect(circuits.get('tavily')!.state).toBe('closed');

      // What the store recorded for the first run: the tool answered from Tavily after Exa failed, secret redacted.
      const first = await chaos.trace(results[0]!.traceId);
      expect(first.status).toBe('success');
      expect(first.iterations).toBe(2);
      expect(spansOf(first, 'iteration')).toHaveLength(2);
      expect(llmSpans(first).map((s) => [s.status, s.stopReason])).toEqual([['ok', 'tool_use'], ['ok', 'end_turn']]);
      const [tool] = toolSpans(first);
      expect(tool).toMatchObject({ toolName: 'web_search', circuit: 'tavily', status: 'ok' });
      expect(tool!.attributes['agentex.fallback.failed']).toEqual(['exa: HttpStatusError']);
      expect(tool!.input).toEqual({ query: 'outage 1 token [REDACTED:anthropic_key]' });
      expect(JSON.stringify(first)).not.toContain(secret);

      // Open: Exa gets no call at all, Tavily answers, the trace says why.
      chaos.query = 'while open';
      const whileOpen = await chaos.run();
      expect(whileOpen.status).toBe('success');
      expect(emu.exa.requestCount).toBe(3);
      const openTool = toolSpans(await chaos.trace(whileOpen.traceId))[0]!;
      expect(openTool.circuit).toBe('tavily');
      expect(openTool.attributes['agentex.fallback.failed']).toEqual(['exa: CircuitOpenError']);

      // Cooldown: move the wall clock (only Date is faked; sockets and timers stay real), Exa has recovered.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + SEARCH_CIRCUIT_OPTIONS.cooldownMs + 1);
      emu.exa.setHandler(undefined);
      chaos.query = 'after cooldown';
      const probe = await chaos.run();
      vi.useRealTimers();
      expect(probe.status).toBe('success');
      expect(emu.exa.requestCount).toBe(4); // exactly one probe
      expect(circuits.get('exa')!.state).toBe('closed');
      expect(toolSpans(await chaos.trace(probe.traceId))[0]).toMatchObject({ circuit: 'exa', status: 'ok' });
      expect(chaos.transitions.filter((t) => t.name === 'exa').map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual([
        'closed>open:consecutive_failures',
        'open>half_open:cooldown_elapsed',
        'half_open>closed:probes_succeeded',
      ]);
    });
  });

  describe('2. Exa hangs', () => {
    beforeEach(async () => {
      chaos = await startChaos({ search: { breaker: { timeoutMs: 300 } } });
    });

    it('times out at the configured per-provider timeout and answers from Tavily, with bounded latency', async () => {
      const { emu, circuits } = chaos;
      emu.exa.setHandler(() => faults.hang());
      const started = performance.now();
      const result = await chaos.run();
      const elapsed = performance.now() - started;
      expect(result.status).toBe('success');
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(3_000);
      expect(circuits.get('exa')!.stats().counts.timeouts).toBe(1);
      const trace = await chaos.trace(result.traceId);
      const tool = toolSpans(trace)[0]!;
      expect(tool).toMatchObject({ circuit: 'tavily', status: 'ok' });
      expect(tool.attributes['agentex.fallback.failed']).toEqual(['exa: TimeoutError']);
      expect(tool.durationMs).toBeGreaterThanOrEqual(280);
      // The hung request was aborted on our side, not left open.
      expect(emu.exa.requests[0]!.outcome).toBe('hang');
    });
  });

  describe('3. both providers down', () => {
    beforeEach(async () => {
      chaos = await startChaos();
    });

    it('returns a structured error the model can read, then fails in microseconds while the circuits are open', async () => {
      const { emu, circuits, tools } = chaos;
      emu.exa.setHandler(() => faults.status(503));
      emu.tavily.setHandler(() => faults.status(500));

      const first = await chaos.run();
      expect(first.status).toBe('success'); // the model got the error result and answered
      expect(first.output).toMatch(/^Search failed: .*SEARCH_FAILED/);
      const trace = await chaos.trace(first.traceId);
      const tool = toolSpans(trace)[0]!;
      expect(tool.status).toBe('error');
      expect(tool.error).toMatchObject({ type: 'ToolError', code: 'SEARCH_FAILED' });
      expect(tool.attributes['agentex.fallback.failed']).toEqual(['exa: HttpStatusError', 'tavily: HttpStatusError']);

      for (let i = 0; i < 2; i++) await chaos.run();
      expect(circuits.get('exa')!.state).toBe('open');
      expect(circuits.get('tavily')!.state).toBe('open');
      const requests = emu.exa.requestCount + emu.tavily.requestCount;

      // No cascade: many calls while open, each answered at once with CIRCUIT_OPEN and no network call.
      const calls = 500;
      const started = performance.now();
      for (let i = 0; i < calls; i++) {
        const r = await tools.execute({ id: `c${i}`, name: 'web_search', input: { query: `q ${i}` } }, { signal: new AbortController().signal });
        expect(!r.ok && r.error.code).toBe('CIRCUIT_OPEN');
      }
      const perCallMs = (performance.now() - started) / calls;
      expect(perCallMs).toBeLessThan(2); // microseconds in practice; generous for a shared machine
      expect(emu.exa.requestCount + emu.tavily.requestCount).toBe(requests);

      const open = await chaos.run();
      const openTool = toolSpans(await chaos.trace(open.traceId))[0]!;
      expect(openTool.error).toMatchObject({ code: 'CIRCUIT_OPEN' });
      expect(openTool.durationMs).toBeLessThan(100);
      expect(openTool.attributes['agentex.fallback.failed']).toEqual(['exa: CircuitOpenError', 'tavily: CircuitOpenError']);
    });
  });

  describe('4. flapping provider', () => {
    beforeEach(async () => {
      chaos = await startChaos();
    });

    it('alternating success and failure never opens a consecutive-failure breaker', async () => {
      const { emu, circuits, tools } = chaos;
      let n = 0;
      emu.exa.setHandler(() => (n++ % 2 === 0 ? faults.status(500) : { results: [{ title: 'ok', content: 'fine' }] }));
      const providers: string[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await tools.execute({ id: `f${i}`, name: 'web_search', input: { query: `flap ${i}` } }, { signal: new AbortController().signal });
        providers.push(r.ok ? (r.data as { provider: string }).provider : 'error');
      }
      expect(providers).toEqual(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 'tavily' : 'exa')));
      expect(chaos.transitions).toEqual([]);
      expect(circuits.get('exa')!.stats().counts).toMatchObject({ calls: 30, failures: 15, successes: 15, rejections: 0 });
      const run = await chaos.run();
      expect(run.status).toBe('success');
      expect((await chaos.trace(run.traceId)).status).toBe('success');
    });

    it('a provider that fails in bursts opens at most once per cooldown: no open/close thrashing', async () => {
      const { emu, circuits, tools } = chaos;
      // Three failures, then one success, forever: enough to trip, and a probe that may land either way.
      let n = 0;
      emu.exa.setHandler(() => (n++ % 4 === 3 ? { results: [{ title: 'ok' }] } : faults.status(500)));
      vi.useFakeTimers({ toFake: ['Date'] });
      const cooldowns = 4;
      for (let c = 0; c <= cooldowns; c++) {
        for (let i = 0; i < 25; i++) {
          await tools.execute({ id: `b${c}-${i}`, name: 'web_search', input: { query: `burst ${c} ${i}` } }, { signal: new AbortController().signal });
        }
        if (c < cooldowns) vi.setSystemTime(Date.now() + SEARCH_CIRCUIT_OPTIONS.cooldownMs + 1);
      }
      vi.useRealTimers();
      const exa = chaos.transitions.filter((t) => t.name === 'exa');
      const opens = exa.filter((t) => t.to === 'open').length;
      // Per cooldown period at most: open → half_open → (closed → open) or (open): never more than 3 transitions.
      expect(opens).toBeGreaterThanOrEqual(1);
      expect(opens).toBeLessThanOrEqual(2 * (cooldowns + 1));
      expect(exa.length).toBeLessThanOrEqual(3 * (cooldowns + 1));
      // While open, calls did not reach Exa: far fewer Exa requests than tool calls.
      expect(emu.exa.requestCount).toBeLessThan(25 * (cooldowns + 1) / 2);
      expect(circuits.get('exa')!.stats().counts.rejections).toBeGreaterThan(0);
    });
  });
});
