/**
 * Chaos scenarios 7-8: the trace store is unavailable during runs, and a model never stops calling tools.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteTraceStore, StoreUnavailableError } from '../../src/store/index.js';
import type { ExportErrorEvent } from '../../src/trace/index.js';
import { DEFAULT_MAX_ITERATIONS } from '../../src/agent/runAgent.js';
import { llmSpans, spansOf, startChaos, toolSpans, type Chaos } from './harness.js';

describe('chaos: agent loop and trace store', () => {
  let chaos: Chaos;
  afterEach(async () => chaos?.close());

  describe('7. trace store unavailable during runs', () => {
    it('runs succeed while the store fails; the batch is retried and written once the store is back, nothing lost', async () => {
      let failuresLeft = 2;
      chaos = await startChaos({
        wrapExporter: (inner) => ({
          name: 'flaky-store',
          export: (batch, signal) =>
            failuresLeft-- > 0 ? Promise.reject(new StoreUnavailableError('sqlite', 'put', new Error('database is locked'))) : inner.export(batch, signal),
        }),
      });
      const errors: ExportErrorEvent[] = [];
      chaos.tracer.onExportError((e) => errors.push(e));
      const runs = await Promise.all([chaos.run(), chaos.run(), chaos.run()]);
      expect(runs.map((r) => r.status)).toEqual(['success', 'success', 'success']);
      await chaos.tracer.forceFlush();

      const stats = chaos.tracer.stats().processor;
      expect(stats.failedAttempts).toBe(2);
      expect(stats.retries).toBeGreaterThanOrEqual(2);
      expect(stats.lost).toBe(0);
      expect(stats.exported).toBe(3);
      expect(errors.map((e) => e.final)).toEqual([false, false]);
      expect(errors.every((e) => e.error.message.includes('database is locked'))).toBe(true);
      for (const r of runs) {
        const t = await chaos.trace(r.traceId);
        expect(t.status).toBe('success');
        expect(toolSpans(t)[0]).toMatchObject({ toolName: 'web_search', circuit: 'exa' });
      }
    });

    it('a store that stays down never slows or fails a run; traces count as lost only after every attempt', async () => {
      let attempts = 0;
      chaos = await startChaos({
        wrapExporter: () => ({
          name: 'dead-store',
          export: () => {
            attempts++;
            return Promise.reject(new StoreUnavailableError('sqlite', 'put', new Error('disk I/O error')));
          },
        }),
        processor: { maxAttempts: 4, maxBatchSize: 1 },
      });
      const errors: ExportErrorEvent[] = [];
      chaos.tracer.onExportError((e) => errors.push(e));
      const started = performance.now();
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await chaos.run());
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(runs.every((r) => r.status === 'success')).toBe(true);
      await chaos.tracer.forceFlush();

      const stats = chaos.tracer.stats().processor;
      expect(attempts).toBe(3 * 4);
      expect(stats.lost).toBe(3);
      expect(stats.exported).toBe(0);
      expect(stats.exporters['dead-store']).toMatchObject({ lost: 3, failedAttempts: 12 });
      // Per batch: three non-final failures, then the final one that counts the loss.
      expect(errors.filter((e) => e.final)).toHaveLength(3);
      expect(errors.filter((e) => !e.final)).toHaveLength(9);
      expect(await chaos.store.get(runs[0]!.traceId)).toBeNull();
    });

    it('closing the real SQLite store mid-session: runs go on, the losses are counted, earlier traces survive on disk', async () => {
      chaos = await startChaos({ processor: { maxAttempts: 2 } });
      const before = await chaos.run();
      expect((await chaos.trace(before.traceId)).status).toBe('success');

      await chaos.store.close();
      const during = await chaos.run();
      expect(during.status).toBe('success');
      await chaos.tracer.forceFlush();
      const stats = chaos.tracer.stats().processor;
      expect(stats.lost).toBe(1);
      expect(stats.exporters['trace-store']).toMatchObject({ exported: 1, lost: 1, failedAttempts: 2 });

      const reopened = createSqliteTraceStore({ path: chaos.dbPath, purgeIntervalMs: 0 });
      try {
        expect((await reopened.get(before.traceId))?.status).toBe('success');
        expect(await reopened.get(during.traceId)).toBeNull();
      } finally {
        await reopened.close();
      }
    });
  });

  describe('8. a model that never stops calling tools', () => {
    it('stops with status timeout after 5 iterations; the trace is kept with every iteration', async () => {
      chaos = await startChaos();
      const { emu } = chaos;
      emu.anthropic.setHandler(() => ({ toolCalls: [{ name: 'datetime', input: { timezone: 'Europe/Paris' } }] }));
      const result = await chaos.run({ message: 'What time is it? Keep checking.' });
      expect(result).toMatchObject({ status: 'timeout', iterations: DEFAULT_MAX_ITERATIONS });
      expect(result.output).toBe('Stopped after 5 iterations without a final answer: the model kept calling tools.');
      expect(result.errorCode).toBeUndefined();
      expect(emu.anthropic.requestCount).toBe(5);

      const trace = await chaos.trace(result.traceId);
      expect(trace).toMatchObject({ status: 'timeout', iterations: 5, keepReason: 'timeout', finalOutput: result.output });
      expect(spansOf(trace, 'iteration').map((s) => s.name)).toEqual([1, 2, 3, 4, 5].map((i) => `iteration ${i}`));
      expect(llmSpans(trace).every((s) => s.status === 'ok' && s.stopReason === 'tool_use')).toBe(true);
      const tools = toolSpans(trace);
      expect(tools).toHaveLength(5);
      expect(tools.every((s) => s.toolName === 'datetime' && s.status === 'ok')).toBe(true);
      expect(tools[0]!.input).toEqual({ timezone: 'Europe/Paris' });
      // Each tool span hangs under its iteration.
      const iterationIds = new Set(spansOf(trace, 'iteration').map((s) => s.spanId));
      expect(tools.every((s) => s.parentId !== null && iterationIds.has(s.parentId))).toBe(true);
    });
  });
});
