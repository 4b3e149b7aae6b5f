import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isSpanId, isTraceId, newSpanId, newTraceId, ID_POOL_BYTES } from './ids.js';
import { DEFAULT_BOUNDS, resolveBounds, truncateText, truncationMarker } from './bounds.js';
import { safeText, safeValue } from './safeValue.js';
import { createSampler, traceIdRatio } from './sampler.js';
import { collectMetadata, MAX_LABELS } from './metadata.js';
import { InvalidOptionsError } from '../common/errors.js';

describe('ids', () => {
  it('are W3C-shaped, unique, and keep coming past a pool refill', () => {
    const seen = new Set<string>();
    for (let i = 0; i < (ID_POOL_BYTES / 8) * 3; i++) {
      const t = newTraceId();
      const s = newSpanId();
      expect(isTraceId(t)).toBe(true);
      expect(isSpanId(s)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe((ID_POOL_BYTES / 8) * 3);
    expect(isTraceId('0'.repeat(32))).toBe(false);
    expect(isTraceId('ABC')).toBe(false);
    expect(isSpanId(42)).toBe(false);
  });
});

describe('bounds', () => {
  it('cuts with a marker counting what was cut, merging an earlier marker', () => {
    const text = 'hello world, '.repeat(20);
    const cut = truncateText(text, 50);
    expect(cut.startsWith(text.slice(0, 48))).toBe(true);
    const m = /…\[truncated (\d+) chars\]$/.exec(cut)!;
    expect(Number(m[1]) + cut.length - m[0].length).toBe(text.length);
    const twice = truncateText(cut, 20);
    const m2 = /…\[truncated (\d+) chars\]$/.exec(twice)!;
    expect(Number(m2[1]) + twice.length - m2[0].length).toBe(text.length);
    expect(truncateText(cut, 60)).toBe(cut);
    expect(truncateText('short', 10)).toBe('short');
  });

  it('never leaves half a token at the cut, nor half a surrogate pair', () => {
    const secretish = `see ${'A1b2C3d4'.repeat(10)}`;
    expect(truncateText(secretish, 20)).toBe(`see ${truncationMarker(secretish.length - 4)}`);
    expect(truncateText('ab😀cd', 3)).toBe(`ab${truncationMarker(4)}`);
  });

  it('property: content never exceeds the cap and the count adds up', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 1, max: 200 }), (s, max) => {
        const out = truncateText(s, max);
        if (s.length <= max) return out === s;
        const m = /…\[truncated (\d+) chars\]$/.exec(out);
        if (!m) return false;
        const kept = out.length - m[0].length;
        return kept <= max && kept + Number(m[1]) === s.length;
      }),
      { numRuns: 200 },
    );
  });

  it('resolves defaults and rejects bad values naming the option', () => {
    expect(resolveBounds(undefined)).toEqual(DEFAULT_BOUNDS);
    expect(resolveBounds({ maxSpans: 5 }).maxSpans).toBe(5);
    expect(() => resolveBounds({ maxSpans: 0 })).toThrow(/tracer\.bounds\.maxSpans|maxSpans/);
    expect(() => resolveBounds({ maxTraceBytes: 10 })).toThrow(InvalidOptionsError);
    expect(() => resolveBounds({ nope: 1 } as never)).toThrow(/nope/);
    try {
      resolveBounds({ maxInputChars: 1.5 });
    } catch (err) {
      expect((err as InvalidOptionsError).option).toBe('tracer.bounds.maxInputChars');
    }
  });
});

describe('safeValue', () => {
  it('renders bad values safely and bounded, never throwing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.me = cyclic;
    const throwing = {
      get boom(): never {
        throw new Error('no');
      },
      ok: 1,
    };
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const out = safeValue({
      cyclic,
      big: 12345678901234567890n,
      fn: function named() {},
      arrow: () => 1,
      sym: Symbol('s'),
      buf: Buffer.from('abc'),
      u8: new Uint8Array(4),
      ab: new ArrayBuffer(8),
      date: new Date(0),
      bad: new Date(NaN),
      re: /x/g,
      map: new Map([[1, 'one']]),
      set: new Set([1, 2]),
      err: Object.assign(new TypeError('bad'), { code: 'E_BAD' }),
      nan: NaN,
      inf: -Infinity,
      undef: undefined,
      throwing,
      revoked: revoked.proxy,
      huge: 'x'.repeat(5000),
      json: { toJSON: () => ({ j: 1 }) },
      badJson: { toJSON: () => { throw new Error('x'); } },
      weak: new WeakMap(),
      promise: Promise.resolve(1),
    }, { maxStringChars: 100 });
    expect(out).toMatchObject({
      cyclic: { a: 1, me: '[Circular]' },
      big: '12345678901234567890n',
      fn: '[Function named]',
      arrow: '[Function arrow]',
      sym: 'Symbol(s)',
      buf: '[Buffer 3 bytes]',
      u8: '[Uint8Array 4 bytes]',
      ab: '[ArrayBuffer 8 bytes]',
      date: '1970-01-01T00:00:00.000Z',
      bad: 'Invalid Date',
      re: '/x/g',
      map: { 1: 'one' },
      set: [1, 2],
      err: { type: 'TypeError', message: 'bad', code: 'E_BAD' },
      nan: 'NaN',
      inf: '-Infinity',
      throwing: { boom: '[Unreadable: Error]', ok: 1 },
      json: { j: 1 },
      weak: '[WeakMap]',
      promise: '[Promise]',
    });
    expect((out as Record<string, unknown>).undef).toBeUndefined();
    expect(typeof (out as Record<string, unknown>).revoked).toBe('string');
    expect(String((out as Record<string, unknown>).badJson)).toMatch(/Unreadable/);
    expect((out as Record<string, string>).huge!.length).toBeLessThan(130);
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('bounds depth, items and total work', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(JSON.stringify(safeValue(deep, { maxDepth: 3 }))).toBe('{"d":{"d":{"d":"[Object]"}}}');
    const wide = Array.from({ length: 500 }, (_, i) => i);
    const out = safeValue(wide, { maxItems: 10 }) as unknown[];
    expect(out).toHaveLength(11);
    expect(out[10]).toBe('…[490 more items]');
    const obj = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(safeValue(obj, { maxItems: 5 })).toMatchObject({ k0: 0, '…': '[45 more keys]' });
    const grid = Array.from({ length: 100 }, () => Array.from({ length: 100 }, () => 1));
    expect(JSON.stringify(safeValue(grid, { maxNodes: 50 }))).toContain('[…]');
    expect(safeValue([undefined])).toEqual([null]);
  });

  it('property: any value renders to JSON without throwing', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
        const out = safeValue(v);
        JSON.stringify(out);
        return true;
      }),
      { numRuns: 150 },
    );
  });

  it('safeText gives one line for anything', () => {
    expect(safeText('abc')).toBe('abc');
    expect(safeText({ a: 1 })).toBe('{"a":1}');
    expect(safeText(5n)).toBe('5n');
  });
});

describe('sampler', () => {
  it('keeps every error, timeout, forced and slow trace', () => {
    const s = createSampler({ sampleRate: 0, slowThresholdMs: 1000 });
    const base = { traceId: newTraceId(), durationMs: 5, forced: false };
    expect(s.decide({ ...base, status: 'error' })).toBe('error');
    expect(s.decide({ ...base, status: 'timeout' })).toBe('timeout');
    expect(s.decide({ ...base, status: 'success', forced: true })).toBe('forced');
    expect(s.decide({ ...base, status: 'success', durationMs: 1000 })).toBe('slow');
    expect(s.decide({ ...base, status: 'success' })).toBeNull();
    expect(createSampler({ sampleRate: 1 }).decide({ ...base, status: 'success' })).toBe('rate');
  });

  it('decides successes deterministically from the trace id, close to the rate', () => {
    const a = createSampler({ sampleRate: 0.1 });
    const b = createSampler({ sampleRate: 0.1 });
    let kept = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const traceId = newTraceId();
      const input = { traceId, status: 'success' as const, durationMs: 1, forced: false };
      const da = a.decide(input);
      if (b.decide(input) !== da) throw new Error(`processes disagree on ${traceId}`);
      if (da) kept++;
    }
    expect(kept / n).toBeGreaterThan(0.085);
    expect(kept / n).toBeLessThan(0.115);
    expect(traceIdRatio('4bf92f3577b34da6a3ce929d0e0e4736')).toBe(traceIdRatio('4bf92f3577b34da6a3ce929d0e0e4736'));
    const odd = traceIdRatio('not-hex');
    expect(odd).toBeGreaterThanOrEqual(0);
    expect(odd).toBeLessThan(1);
  });

  it('validates options', () => {
    expect(() => createSampler({ sampleRate: 2 })).toThrow(/sampleRate/);
    expect(() => createSampler({ slowThresholdMs: -1 })).toThrow(/slowThresholdMs/);
    expect(() => createSampler({ rate: 1 } as never)).toThrow(/rate/);
    expect(createSampler({ slowThresholdMs: Infinity }).slowThresholdMs).toBe(Infinity);
  });
});

describe('metadata', () => {
  it('reads only prefixed variables as labels, plus service identity', () => {
    const env = { AGENTEX_LABEL_REGION: 'eu-west-1', AGENTEX_LABEL_ENVIRONMENT: 'prod', OPENAI_API_KEY: 'never', npm_package_name: 'app', npm_package_version: '1.2.3' };
    const m = collectMetadata({ env });
    expect(m).toMatchObject({ serviceName: 'app', serviceVersion: '1.2.3', pid: process.pid, nodeVersion: process.version, labels: { region: 'eu-west-1', environment: 'prod' } });
    expect(JSON.stringify(m)).not.toContain('never');
    expect(collectMetadata({ env: { MY_X: '1' }, labelPrefix: 'MY_', serviceName: 'svc', labels: { team: 'a' } })).toMatchObject({ serviceName: 'svc', labels: { x: '1', team: 'a' } });
  });

  it('bounds the number of labels and validates options', () => {
    const env = Object.fromEntries(Array.from({ length: MAX_LABELS + 5 }, (_, i) => [`AGENTEX_LABEL_L${i}`, 'v']));
    const m = collectMetadata({ env });
    expect(Object.keys(m.labels)).toHaveLength(MAX_LABELS);
    expect(m.labelsDropped).toBe(5);
    expect(() => collectMetadata({ serviceName: '' })).toThrow(/serviceName/);
    expect(() => collectMetadata({ labels: { a: 1 as unknown as string } })).toThrow(/label `a`/);
    expect(() => collectMetadata({ labels: [] as never })).toThrow(/labels/);
    expect(() => collectMetadata({ envs: {} } as never)).toThrow(/envs/);
  });
});
