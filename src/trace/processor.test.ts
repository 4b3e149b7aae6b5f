import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchTraceProcessor, createBatchProcessor, type ExportErrorEvent } from './processor.js';
import type { KeepReason, TraceExporter, TraceRecord } from './model.js';
import { newTraceId } from './ids.js';
import { InvalidOptionsError } from '../common/errors.js';

let n = 0;
function rec(keepReason: KeepReason): TraceRecord {
  n++;
  return {
    traceId: newTraceId(), userId: null, agent: `t${n}`, startedAt: 0, endedAt: 1, durationMs: 1,
    status: keepReason === 'error' ? 'error' : 'success', iterations: 0, finalOutput: null, metadata: {}, spans: [],
    droppedSpans: 0, truncated: false, keepReason,
  };
}

function recorder(behaviour: (call: number, signal?: AbortSignal) => Promise<void> = () => Promise.resolve()) {
  const batches: TraceRecord[][] = [];
  let calls = 0;
  const exporter: TraceExporter & { batches: TraceRecord[][]; shutdowns: number } = {
    name: 'rec',
    batches,
    shutdowns: 0,
    async export(batch, signal) {
      calls++;
      await behaviour(calls, signal);
      batches.push([...batch]);
    },
    shutdown() {
      exporter.shutdowns++;
      return Promise.resolve();
    },
  };
  return exporter;
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('BatchTraceProcessor', () => {
  it('exports a full batch at once and a partial batch after scheduleDelayMs', async () => {
    const ex = recorder();
    const p = createBatchProcessor({ exporters: [ex], maxBatchSize: 3, scheduleDelayMs: 1000 });
    p.onTraceEnd(rec('rate'));
    p.onTraceEnd(rec('rate'));
    await vi.advanceTimersByTimeAsync(10);
    expect(ex.batches).toHaveLength(0);
    p.onTraceEnd(rec('rate'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ex.batches.map((b) => b.length)).toEqual([3]);
    p.onTraceEnd(rec('rate'));
    await vi.advanceTimersByTimeAsync(999);
    expect(ex.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(ex.batches.map((b) => b.length)).toEqual([3, 1]);
    expect(p.stats()).toMatchObject({ enqueued: 4, exported: 4, queued: 0, dropped: 0, lost: 0 });
  });

  // What waits for export is bounded in spans too, whatever the trace size: 128 queued traces of 1,000 spans each,
  // alive until exported, made a span of a large trace cost twice one of a small trace (docs/benchmarks.md).
  it('ends a batch at maxBatchSpans spans, a larger trace alone in its batch', async () => {
    const ex = recorder();
    const p = createBatchProcessor({ exporters: [ex], maxBatchSize: 100, maxBatchSpans: 10, scheduleDelayMs: 1000 });
    const withSpans = (count: number, reason: KeepReason = 'rate') => {
      const r = rec(reason);
      r.spans = Array.from({ length: count }, () => ({}) as TraceRecord['spans'][number]);
      return r;
    };
    p.onTraceEnd(withSpans(4));
    p.onTraceEnd(withSpans(4));
    await vi.advanceTimersByTimeAsync(0);
    expect(ex.batches).toHaveLength(0);
    p.onTraceEnd(withSpans(4)); // 12 spans queued: export starts, 8 go (a third would pass 10), 4 wait
    await vi.advanceTimersByTimeAsync(0);
    expect(ex.batches.map((b) => b.map((t) => t.spans.length))).toEqual([[4, 4]]);
    p.onTraceEnd(withSpans(25));
    p.onTraceEnd(withSpans(1, 'error'));
    await vi.advanceTimersByTimeAsync(0);
    // Errors first; the 25-span trace is never split and goes alone.
    expect(ex.batches.slice(1).map((b) => b.map((t) => t.spans.length))).toEqual([[1, 4], [25]]);
    expect(p.stats()).toMatchObject({ enqueued: 5, exported: 5, queued: 0 });
    await p.shutdown();
  });

  it('when full, drops sampled successes before slow/forced before errors, and counts every drop', async () => {
    const ex = recorder();
    const p = createBatchProcessor({ exporters: [ex], maxQueueSize: 4, maxBatchSize: 4 });
    const r1 = rec('rate');
    const r2 = rec('rate');
    const e1 = rec('error');
    const s1 = rec('slow');
    p.onTraceEnd(r1);
    p.onTraceEnd(r2);
    p.onTraceEnd(e1);
    p.onTraceEnd(s1); // full now (4)
    const e2 = rec('error');
    p.onTraceEnd(e2); // evicts r1
    p.onTraceEnd(rec('rate')); // nothing lower: the newcomer is dropped
    const e3 = rec('timeout');
    p.onTraceEnd(e3); // evicts r2
    const e4 = rec('error');
    p.onTraceEnd(e4); // evicts s1
    const e5 = rec('error');
    p.onTraceEnd(e5); // only errors left: the newcomer is dropped
    expect(p.stats()).toMatchObject({ queued: 4, dropped: 5, droppedQueueFull: 5, droppedByKeepReason: { rate: 3, slow: 1, error: 1 } });
    await p.forceFlush();
    expect(ex.batches.flat()).toEqual([e1, e2, e3, e4]);
    const s = p.stats();
    expect(s.enqueued + 2).toBe(s.exported + s.dropped + s.lost + s.queued);
  });

  it('a synchronous burst past the queue size is fully accounted for', async () => {
    const ex = recorder();
    const p = createBatchProcessor({ exporters: [ex], maxQueueSize: 100, maxBatchSize: 50 });
    for (let i = 0; i < 10_000; i++) p.onTraceEnd(rec(i % 10 === 0 ? 'error' : 'rate'));
    await p.forceFlush();
    const s = p.stats();
    expect(s.exported + s.dropped).toBe(10_000);
    expect(s.exported).toBe(100);
    // The 100 survivors are the most important: errors first.
    expect(ex.batches.flat().every((r) => r.keepReason === 'error')).toBe(true);
  });

  it('retries a failing exporter with backoff, then counts the batch as lost', async () => {
    const flaky = recorder((call) => (call <= 2 ? Promise.reject(new Error(`fail ${call}`)) : Promise.resolve()));
    const dead = { name: 'dead', export: () => Promise.reject(new Error('down')) } satisfies TraceExporter;
    const p = createBatchProcessor({ exporters: [flaky, dead], maxBatchSize: 1, maxAttempts: 3, retryBaseDelayMs: 100, retryMaxDelayMs: 1000 });
    const events: ExportErrorEvent[] = [];
    const off = p.onExportError((e) => events.push(e));
    p.onExportError(() => {
      throw new Error('listener failure is ignored');
    });
    p.onTraceEnd(rec('error'));
    await vi.advanceTimersByTimeAsync(5000);
    const s = p.stats();
    expect(flaky.batches).toHaveLength(1);
    expect(s.exporters.rec).toMatchObject({ exported: 1, lost: 0, failedAttempts: 2 });
    expect(s.exporters.dead).toMatchObject({ exported: 0, lost: 1, failedAttempts: 3 });
    expect(s).toMatchObject({ exported: 0, lost: 1, retries: 4, failedAttempts: 5 });
    expect(events.filter((e) => e.final).map((e) => e.exporter)).toEqual(['dead']);
    off();
  });

  it('bounds a hanging exporter with the export timeout; the traced side is never blocked', async () => {
    let seen: AbortSignal | undefined;
    const hang: TraceExporter = {
      name: 'hang',
      export: (_batch, signal) => {
        seen = signal;
        return new Promise(() => {});
      },
    };
    const p = createBatchProcessor({ exporters: [hang], maxBatchSize: 1, exportTimeoutMs: 1000, maxAttempts: 2, retryBaseDelayMs: 10 });
    const started = Date.now();
    p.onTraceEnd(rec('error')); // returns at once
    expect(Date.now() - started).toBeLessThan(50);
    const flushed = p.forceFlush();
    await vi.advanceTimersByTimeAsync(2100);
    await flushed;
    expect(seen?.aborted).toBe(true);
    expect(p.stats()).toMatchObject({ lost: 1, failedAttempts: 2 });
  });

  it('forceFlush and shutdown wait for in-flight exports; shutdown closes exporters and later traces count as dropped', async () => {
    const slow = recorder(() => new Promise((r) => setTimeout(r, 500)));
    const p = createBatchProcessor({ exporters: [slow], maxBatchSize: 2 });
    p.onTraceEnd(rec('rate'));
    p.onTraceEnd(rec('rate'));
    p.onTraceEnd(rec('rate'));
    let flushed = false;
    const f = p.forceFlush().then(() => (flushed = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(flushed).toBe(false);
    await vi.advanceTimersByTimeAsync(600);
    await f;
    expect(slow.batches.flat()).toHaveLength(3);
    p.onTraceEnd(rec('error'));
    const s1 = p.shutdown();
    expect(p.shutdown()).toBe(s1);
    await vi.advanceTimersByTimeAsync(600);
    await s1;
    expect(slow.batches.flat()).toHaveLength(4);
    expect(slow.shutdowns).toBe(1);
    p.onTraceEnd(rec('error'));
    expect(p.stats()).toMatchObject({ droppedAfterShutdown: 1, dropped: 1, exported: 4 });
  });

  it('with no exporter, kept traces are counted as exported (nowhere to send)', async () => {
    const p = new BatchTraceProcessor({ exporters: [] });
    p.onTraceEnd(rec('rate'));
    await p.forceFlush();
    expect(p.stats().exported).toBe(1);
  });

  it('validates options naming the option', () => {
    const bad: [unknown, string][] = [
      [{ exporters: 'x' }, 'batchProcessor.exporters'],
      [{ exporters: [{ name: 'x' }] }, 'batchProcessor.exporters[0]'],
      [{ exporters: [], maxQueueSize: 0 }, 'batchProcessor.maxQueueSize'],
      [{ exporters: [], maxAttempts: 1.5 }, 'batchProcessor.maxAttempts'],
      [{ exporters: [], extra: 1 }, 'batchProcessor.extra'],
      [{ exporters: [], maxBatchSize: 10, maxQueueSize: 2 }, 'batchProcessor.maxBatchSize'],
    ];
    for (const [options, option] of bad) {
      try {
        createBatchProcessor(options as never);
        expect.unreachable(option);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionsError);
        expect((err as InvalidOptionsError).option).toBe(option);
      }
    }
  });
});
