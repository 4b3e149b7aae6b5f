/**
 * Property tests: for any interleaving of concurrent calls with random outcomes and durations, the breaker's state
 * machine only takes legal edges, never runs more than `halfOpenMaxProbes` probes at once, and a half-open circuit
 * lets exactly min(N, halfOpenMaxProbes) of N concurrent calls reach the function.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetCoarseClock } from './clock.js';
import { circuitBreaker, type CircuitState } from './CircuitBreaker.js';
import { CircuitOpenError } from './errors.js';

const LEGAL = new Set([
  'closed>open',
  'open>half_open',
  'half_open>open',
  'half_open>closed',
  'closed>closed', // reset while closed
  'open>closed', // reset
  'half_open>closed',
]);

type Op =
  | { kind: 'call'; fail: boolean; durationMs: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'reset' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('call' as const), fail: fc.boolean(), durationMs: fc.integer({ min: 0, max: 200 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

describe('circuit breaker properties', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    resetCoarseClock();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetCoarseClock();
  });

  it('stays a valid state machine under any interleaving of concurrent calls', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          threshold: fc.integer({ min: 1, max: 4 }),
          halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
          successThreshold: fc.integer({ min: 1, max: 3 }),
          cooldownMs: fc.integer({ min: 10, max: 100 }),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        async (options, ops) => {
          const b = circuitBreaker({ name: 'p', ...options, timeoutMs: 120 });
          const edges: string[] = [];
          let episode = 0;
          let running = 0;
          let maxRunning = 0;
          b.onStateChange(({ from, to }) => {
            edges.push(`${from}>${to}`);
            if (to === 'half_open') {
              episode++;
              running = 0;
            }
          });
          const pending: Promise<unknown>[] = [];
          for (const op of ops) {
            if (op.kind === 'advance') {
              await vi.advanceTimersByTimeAsync(op.ms);
            } else if (op.kind === 'reset') {
              b.reset();
            } else {
              const before: CircuitState = b.state;
              pending.push(
                b
                  .execute(async () => {
                    const mine = episode;
                    const probe = b.state === 'half_open';
                    if (probe) maxRunning = Math.max(maxRunning, ++running);
                    await new Promise((r) => setTimeout(r, op.durationMs));
                    if (probe && mine === episode) running--;
                    if (op.fail) throw new Error('x');
                    return 1;
                  })
                  .catch((e: unknown) => {
                    // Rejections only happen while the circuit is not closed.
                    if (e instanceof CircuitOpenError) expect(before).not.toBe('closed');
                  }),
              );
            }
            const s = b.stats();
            expect(['closed', 'open', 'half_open']).toContain(s.state);
            expect(s.probesInFlight).toBeLessThanOrEqual(options.halfOpenMaxProbes);
            if (s.state === 'closed') expect(s.consecutiveFailures).toBeLessThan(options.threshold);
            if (s.state !== 'open') expect(s.cooldownRemainingMs).toBe(0);
          }
          await vi.advanceTimersByTimeAsync(500);
          await Promise.all(pending);
          for (const e of edges) expect(LEGAL.has(e), e).toBe(true);
          expect(maxRunning).toBeLessThanOrEqual(options.halfOpenMaxProbes);
          const c = b.stats().counts;
          expect(c.successes + c.failures + c.ignored).toBeLessThanOrEqual(c.calls);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('in half-open, exactly min(N, halfOpenMaxProbes) of N concurrent calls reach the function', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { minLength: 12, maxLength: 12 }),
        async (maxProbes, n, outcomes) => {
          const b = circuitBreaker({ name: 'h', threshold: 1, cooldownMs: 100, halfOpenMaxProbes: maxProbes, successThreshold: 5 });
          await b.execute(() => Promise.reject(new Error('trip'))).catch(() => undefined);
          vi.advanceTimersByTime(100);
          expect(b.state).toBe('half_open');
          let reached = 0;
          let rejected = 0;
          const calls = Array.from({ length: n }, (_, i) =>
            b
              .execute(async () => {
                reached++;
                const [fail, ms] = outcomes[i]!;
                await new Promise((r) => setTimeout(r, ms));
                if (fail) throw new Error('probe failed');
                return i;
              })
              .catch((e: unknown) => {
                if (e instanceof CircuitOpenError) rejected++;
              }),
          );
          // Rejections are immediate: before any probe finishes, all the others are already refused.
          await Promise.resolve();
          await Promise.resolve();
          expect(reached).toBe(Math.min(n, maxProbes));
          await vi.advanceTimersByTimeAsync(100);
          await Promise.all(calls);
          expect(reached).toBe(Math.min(n, maxProbes));
          expect(rejected).toBe(n - Math.min(n, maxProbes));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('calls from an earlier generation never move the state machine when they settle late', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (oldOutcomes, maxProbes, resetInstead) => {
          const b = circuitBreaker({ name: 'g', threshold: 1, cooldownMs: 50, halfOpenMaxProbes: maxProbes, successThreshold: 2 });
          const gates = oldOutcomes.map(() => {
            let open!: () => void;
            const gate = new Promise<void>((r) => (open = r));
            return { gate, open };
          });
          const old = oldOutcomes.map((fail, i) =>
            b
              .execute(async () => {
                await gates[i]!.gate;
                if (fail) throw new Error('old');
                return 'old';
              })
              .catch(() => undefined),
          );
          await b.execute(() => Promise.reject(new Error('trip'))).catch(() => undefined);
          if (resetInstead) {
            b.reset();
          } else {
            vi.advanceTimersByTime(50);
            expect(b.state).toBe('half_open');
            for (let i = 0; i < maxProbes; i++) void b.execute(() => new Promise(() => {})).catch(() => undefined);
          }
          const before = b.stats();
          for (const g of gates) g.open();
          await Promise.all(old);
          const after = b.stats();
          expect(after.state).toBe(before.state);
          expect(after.generation).toBe(before.generation);
          expect(after.probesInFlight).toBe(before.probesInFlight);
          expect(after.consecutiveFailures).toBe(before.consecutiveFailures);
          if (resetInstead) expect(after.counts.calls).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
