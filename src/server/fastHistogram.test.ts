import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from './fastHistogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Samples of a Prometheus text exposition as "name{sorted labels} value" lines, plus the HELP/TYPE lines. */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      if (line.startsWith('#')) return line;
      const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`unparsable line: ${line}`);
      const labels = (m[2] ?? '').split(/,(?=\w+=")/).filter(Boolean).sort().join(',');
      return `${m[1]}{${labels}} ${Number(m[3])}`;
    })
    .sort();
}

async function expositions(observations: readonly { method: string; route: string; value: number }[]) {
  const ours = new Registry();
  const fast = new FastHistogram({ name: 'h_seconds', help: 'help text', labelNames: ['method', 'route'], buckets: BUCKETS });
  ours.registerMetric(fast as unknown as Histogram);
  const theirs = new Registry();
  const reference = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['method', 'route'], buckets: BUCKETS, registers: [theirs] });
  for (const o of observations) {
    fast.seriesFor(`${o.method} ${o.route}`, [o.method, o.route]).observe(o.value);
    reference.observe({ method: o.method, route: o.route }, o.value);
  }
  return { ours: samples(await ours.metrics()), theirs: samples(await theirs.metrics()), fast, ours_registry: ours };
}

describe('FastHistogram', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            method: fc.constantFrom('GET', 'POST'),
            route: fc.constantFrom('/api/circuits', '/api/traces/:id', 'unmatched'),
            value: fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 20, noNaN: true })),
          }),
          { maxLength: 60 },
        ),
        async (observations) => {
          const { ours, theirs } = await expositions(observations);
          expect(ours).toEqual(theirs);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts a value equal to a bound in that bound’s bucket', async () => {
    const { ours } = await expositions([{ method: 'GET', route: '/x', value: 0.01 }]);
    expect(ours).toContain('h_seconds_bucket{le="0.005",method="GET",route="/x"} 0');
    expect(ours).toContain('h_seconds_bucket{le="0.01",method="GET",route="/x"} 1');
    expect(ours).toContain('h_seconds_count{method="GET",route="/x"} 1');
  });

  it('keeps at most maxSeries label sets and counts what it drops', async () => {
    const h = new FastHistogram({ name: 'b_seconds', help: 'h', labelNames: ['route'], buckets: [1], maxSeries: 2 });
    for (const route of ['a', 'b', 'c', 'c']) h.seriesFor(route, [route]).observe(0.5);
    expect(h.dropped).toBe(2);
    const { values } = await h.get();
    expect(new Set(values.map((v) => v.labels.route))).toEqual(new Set(['a', 'b']));
  });

  it('zeroes on reset while the series callers hold keep counting into the exposition', async () => {
    const registry = new Registry();
    const h = new FastHistogram({ name: 'r_seconds', help: 'h', labelNames: ['route'], buckets: [1] });
    registry.registerMetric(h as unknown as Histogram);
    const series = h.seriesFor('a', ['a']);
    series.observe(2);
    registry.resetMetrics();
    expect(samples(await registry.metrics())).toContain('r_seconds_count{route="a"} 0');
    series.observe(0.5);
    expect(samples(await registry.metrics())).toEqual(
      expect.arrayContaining(['r_seconds_count{route="a"} 1', 'r_seconds_sum{route="a"} 0.5', 'r_seconds_bucket{le="1",route="a"} 1']),
    );
  });

  it('refuses buckets that are not ascending', () => {
    expect(() => new FastHistogram({ name: 'x', help: 'h', labelNames: [], buckets: [1, 1] })).toThrow(/ascending/);
  });
});
