import { afterEach, describe, expect, it } from 'vitest';
import { createTracer, type Tracer } from './Tracer.js';
import type { TraceRecord } from './model.js';

describe('output caps bound the whole output', () => {
  let tracer: Tracer;
  afterEach(() => tracer.shutdown());

  it('keeps a small structured tool output as is and cuts a large one to the cap, redacted first', async () => {
    const out: TraceRecord[] = [];
    tracer = createTracer({ sampleRate: 1, exporters: [{ name: 'mem', export: async (b) => void out.push(...b) }] });
    const secret = `sk-ant-api03-${'x'.repeat(90)}`;
    tracer.withTrace({ agent: 'a' }, () => {
      tracer.withSpan('tool', 'small', (s) => s.setOutput({ ok: true, n: 3 }));
      tracer.withSpan('tool', 'large', (s) =>
        s.setOutput({ results: Array.from({ length: 20 }, (_, i) => ({ title: `result ${i}`, content: `text ${i} `.repeat(20), key: i === 0 ? secret : undefined })) }),
      );
    });
    await tracer.forceFlush();
    const spans = Object.fromEntries(out[0]!.spans.map((s) => [s.name, s]));
    expect(spans.small!.output).toEqual({ ok: true, n: 3 });
    const large = spans.large!.output as string;
    expect(typeof large).toBe('string');
    expect(large.length).toBeLessThanOrEqual(500 + 40);
    expect(large).toMatch(/…\[truncated \d+ chars\]$/);
    expect(large).not.toContain('sk-ant-api03');
  });
});
