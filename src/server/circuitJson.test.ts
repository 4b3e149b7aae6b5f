import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CircuitView } from './app.js';
import { circuitListJson } from './circuitJson.js';
import { CircuitListSchema, CircuitSchema } from './schemas.js';

const count = fc.nat();
const epoch = fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null });
/** Names and messages from every corner of Unicode: quotes, backslashes, control characters, lone surrogates. */
const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('exa', 'a"b', 'a\\b', '\n\u0000', '\ud800', 'x/y@z:1'));

const viewArb: fc.Arbitrary<CircuitView> = fc.record({
  name: text,
  state: fc.constantFrom('closed', 'open', 'half_open'),
  policy: fc.constantFrom('consecutive', 'countWindow', 'timeWindow'),
  counts: fc.record({ calls: count, successes: count, failures: count, timeouts: count, rejections: count, ignored: count, slowCalls: count }),
  consecutiveFailures: count,
  window: fc.option(fc.record({ calls: count, failures: count, slow: count }), { nil: null }),
  cooldownRemainingMs: fc.oneof(count, fc.double({ min: 0, max: 1e9, noNaN: true })),
  lastFailureAt: epoch,
  lastSuccessAt: epoch,
  lastError: fc.option(text, { nil: null }),
  probesInFlight: count,
  generation: count,
  failureRate: fc.double({ min: 0, max: 1, noNaN: true }),
  lastStateChangeAt: epoch,
});

describe('circuitListJson', () => {
  it('writes exactly what JSON.stringify writes for the same views', () => {
    fc.assert(
      fc.property(fc.array(viewArb, { maxLength: 6 }), (views) => {
        expect(circuitListJson(views)).toBe(JSON.stringify({ circuits: views }));
      }),
      { numRuns: 500 },
    );
  });

  it('writes every field of the documented schema, and it validates', () => {
    const [view] = fc.sample(viewArb, { numRuns: 1, seed: 7 });
    const parsed = JSON.parse(circuitListJson([view!])) as { circuits: Record<string, unknown>[] };
    expect(Object.keys(parsed.circuits[0]!)).toEqual(Object.keys(CircuitSchema.shape));
    expect(CircuitListSchema.safeParse(parsed).success).toBe(true);
    expect(circuitListJson([])).toBe('{"circuits":[]}');
  });

  it('never writes a field the view type does not declare, and keeps non-finite numbers valid JSON', () => {
    const [base] = fc.sample(viewArb, { numRuns: 1, seed: 3 });
    const leaky = { ...base!, secret: 'sk-live-abc', counts: { ...base!.counts, calls: Number.NaN }, failureRate: Number.POSITIVE_INFINITY };
    const out = circuitListJson([leaky]);
    expect(out).not.toContain('sk-live-abc');
    const parsed = JSON.parse(out) as { circuits: [{ counts: { calls: unknown }; failureRate: unknown }] };
    expect(parsed.circuits[0].counts.calls).toBeNull();
    expect(parsed.circuits[0].failureRate).toBeNull();
  });
});
