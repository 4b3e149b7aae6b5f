import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonBound, numberBound, spanBound, stringBound } from './jsonBound.js';
import { createTracer } from './Tracer.js';
import { withSpan } from './context.js';
import type { TraceRecord } from './model.js';

const utf8 = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('jsonBound', () => {
  it('never under-counts strings: ASCII, escapes, control characters, non-ASCII, pairs and lone surrogates', () => {
    const strings = ['', 'op', 'a "quoted" \\ path', 'line\nbreak\ttab\u0001\u001f', 'café ñ', '中文字符', '😀 emoji', '\ud800 lone', 'x\udc00', '\u007f\u0080\u07ff\u0800\uffff'];
    for (const s of strings) {
      expect(stringBound(s), JSON.stringify(s)).toBeGreaterThanOrEqual(utf8(s));
      // ASCII without escapes is exact.
      if (/^[\x20-\x7e]*$/.test(s) && !/["\\]/.test(s)) expect(stringBound(s)).toBe(utf8(s));
    }
  });

  it('never under-counts numbers', () => {
    const numbers = [0, -0, 1, -1, 9, 10, 99, 100, 123456789, 1e14, 1e15 - 1, 1e15, 2 ** 53, 1e20, 1e21, -1e21, 1.5, -1.5, 0.1, 1 / 3, -1 / 3,
      1764950000000.1235, Date.now() + performance.now() / 7, 0.11100006103515625, 1e-6 / 3, 1e-7, 5e-324, -Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];
    for (const n of numbers) expect(numberBound(n), String(n)).toBeGreaterThanOrEqual(utf8(n));
    for (let i = 0; i < 2000; i++) {
      const n = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 15);
      expect(numberBound(n), String(n)).toBeGreaterThanOrEqual(utf8(n));
    }
  });

  it('never under-counts nested data (undefined left out of objects, null in arrays)', () => {
    const values = [null, true, false, [], {}, [1, 'two', null, undefined, { a: [true, { 'k"ey': 'v\n' }] }], { a: undefined, b: 1, 'ключ': 'значение' }];
    for (const v of values) expect(jsonBound(v)).toBeGreaterThanOrEqual(utf8(v));
  });
});

describe('byte cap accounting of kept traces', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function keptTrace(spans: number, attrs: (i: number) => Record<string, string | number | boolean>, bounds = {}, input = false): Promise<TraceRecord> {
    const records: TraceRecord[] = [];
    const tracer = createTracer({ sampleRate: 1, bounds, exporters: [{ name: 'mem', export: async (b) => void records.push(...b) }] });
    await tracer.withTrace('bound', async () => {
      for (let i = 0; i < spans; i++) await withSpan(i % 2 ? 'tool' : 'llm', `op ${i}`, async (s) => {
        s.setAttributes(attrs(i));
        if (input) s.setInput({ q: `é"\n${i}` });
      });
    });
    await tracer.shutdown();
    return records[0]!;
  }

  it('bounds every span record from above', async () => {
    const record = await keptTrace(50, (i) => ({ a: i, b: 'two', c: true, d: i / 7, e: '😀\u0001' }), {}, true);
    for (const span of record.spans) expect(spanBound(span)).toBeGreaterThanOrEqual(utf8(span));
  });

  // The exact measurement (`JSON.stringify` of the whole record) is what made a span of a 1,000-span trace cost twice
  // one of a 50-span trace: it must run only for a trace that may exceed the cap, never for every large one.
  it('measures a trace below the cap without serialising it, and still cuts one above the cap', async () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    const small = await keptTrace(1000, (i) => ({ a: i, b: 'two', c: true, d: 4.5, e: 'five' }));
    expect(small.truncated).toBe(false);
    expect(small.spans).toHaveLength(1000);
    expect(stringify).not.toHaveBeenCalled();
    expect(utf8(small)).toBeLessThanOrEqual(256 * 1024);

    const big = await keptTrace(200, () => ({ text: 'x'.repeat(400) }), { maxTraceBytes: 16 * 1024 });
    expect(stringify).toHaveBeenCalled();
    expect(big.truncated).toBe(true);
    expect(utf8(big)).toBeLessThanOrEqual(16 * 1024);
  });
});
