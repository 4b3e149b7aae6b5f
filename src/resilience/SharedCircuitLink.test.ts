/**
 * Breakers sharing one state store (memory here; Redis and Postgres run the same breakers in test/service.cluster.test.ts):
 * opens propagate, half-open admits probes across breakers, resets reach every breaker, the closed path never touches
 * the store, and an unreachable store leaves each breaker on its own state until it returns.
 */
import { describe, expect, it } from 'vitest';
import { circuitBreaker, type CircuitBreaker, type StateChangeEvent } from './CircuitBreaker.js';
import { memoryCircuitStateStore, type CircuitStateStore } from './CircuitStateStore.js';
import { Emitter } from './Emitter.js';
import { isCircuitOpenError } from './errors.js';

const fail = () => Promise.reject(new Error('provider down'));
const ok = () => Promise.resolve('ok');

/** The next state change of `b` to `to`. */
const becomes = (b: CircuitBreaker, to: string) =>
  new Promise<StateChangeEvent>((resolve) => {
    const off = b.onStateChange((e) => {
      if (e.to !== to) return;
      off();
      resolve(e);
    });
  });

/** A memory store that counts operations and can be made unreachable. */
function switchable(): CircuitStateStore & { ops: number; setUp(up: boolean): void } {
  const inner = memoryCircuitStateStore();
  const availability = new Emitter<boolean>();
  let up = true;
  return {
    backend: 'memory',
    ops: 0,
    get available() {
      return up;
    },
    setUp(next: boolean) {
      up = next;
      availability.emit(next);
    },
    read(name) {
      this.ops++;
      return up ? inner.read(name) : Promise.reject(new Error('unreachable'));
    },
    apply(name, op) {
      this.ops++;
      return up ? inner.apply(name, op) : Promise.reject(new Error('unreachable'));
    },
    onChange: (l) => inner.onChange(l),
    onAvailability: (l) => availability.on(l),
    close: () => inner.close(),
  };
}

describe('breakers sharing a state store', () => {
  it('opens every breaker when one trips, with the first cooldown', async () => {
    const stateStore = memoryCircuitStateStore();
    const a = circuitBreaker({ name: 'exa', threshold: 2, cooldownMs: 60_000, stateStore });
    const b = circuitBreaker({ name: 'exa', threshold: 2, cooldownMs: 60_000, stateStore });
    const other = circuitBreaker({ name: 'tavily', stateStore });
    const bOpen = becomes(b, 'open');
    for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => undefined);
    expect(a.state).toBe('open');
    expect(await bOpen).toMatchObject({ from: 'closed', reason: 'consecutive_failures' });
    let called = false;
    const err = await b.execute(() => ((called = true), ok())).catch((e: unknown) => e);
    expect(isCircuitOpenError(err) && err.retryAfterMs > 59_000).toBe(true);
    expect(called).toBe(false);
    expect(other.state).toBe('closed');
  });

  it('admits halfOpenMaxProbes probes across breakers, and closes them all on success', async () => {
    const stateStore = memoryCircuitStateStore();
    const opts = { name: 'exa', threshold: 1, cooldownMs: 0, halfOpenMaxProbes: 1, stateStore };
    const [a, b, c] = [circuitBreaker(opts), circuitBreaker(opts), circuitBreaker(opts)];
    const allOpen = Promise.all([becomes(b, 'open'), becomes(c, 'open')]);
    await a.execute(fail).catch(() => undefined);
    await allOpen;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let ran = 0;
    const probe = () => (ran++, gate.then(() => 'ok'));
    const results = [a.execute(probe), b.execute(probe), c.execute(probe)].map((p) => p.then(() => 'ran', (e: unknown) => (isCircuitOpenError(e) ? 'rejected' : 'error')));
    const closed = Promise.all([becomes(a, 'closed'), becomes(b, 'closed'), becomes(c, 'closed')]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toBe(1);
    release();
    expect((await Promise.all(results)).sort()).toEqual(['ran', 'rejected', 'rejected']);
    expect((await closed).map((e) => e.reason)).toEqual(['probes_succeeded', 'probes_succeeded', 'probes_succeeded']);
  });

  it('re-opens every breaker when a probe fails', async () => {
    const stateStore = memoryCircuitStateStore();
    const a = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 0, stateStore });
    const b = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 0, stateStore });
    const bOpen = becomes(b, 'open');
    await a.execute(fail).catch(() => undefined);
    await bOpen;
    const bHalf = becomes(b, 'half_open');
    const bReopened = bHalf.then(() => becomes(b, 'open'));
    await a.execute(fail).catch(() => undefined);
    expect((await bReopened).reason).toBe('probe_failed');
  });

  it('resets every breaker through any of them', async () => {
    const stateStore = memoryCircuitStateStore();
    const a = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    const b = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    const bOpen = becomes(b, 'open');
    await a.execute(fail).catch(() => undefined);
    await bOpen;
    const aReset = becomes(a, 'closed');
    b.reset();
    expect((await aReset).reason).toBe('reset');
    expect(a.stats().counts.failures).toBe(0);
    expect(await a.execute(ok)).toBe('ok');
  });

  it('opens on a failure that started right after its own reset (the reset coming back does not orphan it)', async () => {
    const stateStore = memoryCircuitStateStore();
    const a = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    const b = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    const bOpen = becomes(b, 'open');
    await a.execute(fail).catch(() => undefined);
    await bOpen;
    a.reset();
    // Started before the store has answered the reset (and announced it): its failure must still count.
    const bOpenAgain = becomes(b, 'open');
    await a.execute(fail).catch(() => undefined);
    expect(a.state).toBe('open');
    expect((await bOpenAgain).reason).toBe('consecutive_failures');
    await new Promise((resolve) => setImmediate(resolve)); // the reset's answer and announcement have been heard
    expect(a.state).toBe('open');
  });

  it('never touches the store on the closed path', async () => {
    const stateStore = switchable();
    const a = circuitBreaker({ name: 'exa', threshold: 3, stateStore });
    await new Promise((resolve) => setImmediate(resolve));
    const before = stateStore.ops;
    for (let i = 0; i < 100; i++) await a.execute(ok);
    await a.execute(fail).catch(() => undefined);
    expect(stateStore.ops).toBe(before);
  });

  it('runs on local state while the store is unreachable and pushes its open when it returns', async () => {
    const stateStore = switchable();
    const a = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    const b = circuitBreaker({ name: 'exa', threshold: 1, cooldownMs: 60_000, stateStore });
    await new Promise((resolve) => setImmediate(resolve));
    stateStore.setUp(false);
    await a.execute(fail).catch(() => undefined);
    expect([a.state, b.state]).toEqual(['open', 'closed']);
    const bOpen = becomes(b, 'open');
    stateStore.setUp(true);
    await bOpen;
    expect(a.state).toBe('open');
  });

  it('refuses a stateStore that is not one', () => {
    expect(() => circuitBreaker({ name: 'x', stateStore: {} as CircuitStateStore })).toThrow(/stateStore/);
  });
});
