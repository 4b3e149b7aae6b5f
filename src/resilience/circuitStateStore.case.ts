/**
 * The contract every CircuitStateStore meets, run on memory, Redis and Postgres. `open()` returns a handle on the same
 * shared state each time (for Redis and Postgres a new connection: one handle per "instance").
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CircuitChange, CircuitStateStore } from './CircuitStateStore.js';

export function runCircuitStateStoreContract(label: string, open: () => Promise<CircuitStateStore>): void {
  describe(`CircuitStateStore contract: ${label}`, () => {
    let a: CircuitStateStore;
    let b: CircuitStateStore;
    const name = () => `c-${randomBytes(6).toString('hex')}`;
    const T = 1_700_000_000_000;

    beforeAll(async () => {
      a = await open();
      b = await open();
    });
    afterAll(async () => {
      await a?.close();
      if (b !== a) await b?.close();
    });

    /** The next change of `circuit` that `store` hears. */
    const heard = (store: CircuitStateStore, circuit: string, version: number) =>
      new Promise<CircuitChange>((resolve) => {
        const off = store.onChange((c) => {
          if (c.name !== circuit || c.record.version !== version) return;
          off();
          resolve(c);
        });
      });

    it('is available and reads a circuit never written as closed, version 0', async () => {
      expect(a.available).toBe(true);
      expect(await a.read(name())).toMatchObject({ state: 'closed', version: 0, openUntil: 0 });
    });

    it('opens once, announces it to every handle, and keeps the first cooldown', async () => {
      const n = name();
      const onB = heard(b, n, 1);
      const first = await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T + 1000 });
      expect(first).toEqual({ record: { state: 'open', version: 1, openUntil: T + 1000, reason: 'consecutive_failures' }, changed: true, admitted: false });
      expect(await onB).toEqual({ name: n, record: first.record });
      const second = await b.apply(n, { type: 'open', reason: 'failure_rate', openUntil: T + 5000 });
      expect(second).toEqual({ record: first.record, changed: false, admitted: false });
      expect(await b.read(n)).toEqual(first.record);
    });

    it('admits halfOpenMaxProbes probes cluster-wide once the cooldown is over, atomically', async () => {
      const n = name();
      await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T + 1000 });
      const early = await b.apply(n, { type: 'acquireProbe', now: T + 999, maxProbes: 2, leaseMs: 5000, token: 'early' });
      expect(early).toMatchObject({ admitted: false, changed: false, record: { state: 'open', version: 1 } });
      const tries = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).apply(n, { type: 'acquireProbe', now: T + 1000, maxProbes: 2, leaseMs: 5000, token: `t${i}` })),
      );
      expect(tries.filter((t) => t.admitted)).toHaveLength(2);
      expect(tries.filter((t) => t.changed)).toHaveLength(1);
      expect(await a.read(n)).toMatchObject({ state: 'half_open', version: 2, reason: 'cooldown_elapsed' });
    });

    it('closes after successThreshold probe successes across handles, and ignores stale leases', async () => {
      const n = name();
      await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T });
      const p1 = await a.apply(n, { type: 'acquireProbe', now: T, maxProbes: 2, leaseMs: 5000, token: 'p1' });
      const p2 = await b.apply(n, { type: 'acquireProbe', now: T, maxProbes: 2, leaseMs: 5000, token: 'p2' });
      expect([p1.admitted, p2.admitted]).toEqual([true, true]);
      const v = p1.record.version;
      expect(await a.apply(n, { type: 'probeDone', version: v - 1, token: 'p1', ok: true, successThreshold: 2, openUntil: 0 })).toMatchObject({ changed: false });
      expect(await a.apply(n, { type: 'probeDone', version: v, token: 'p1', ok: true, successThreshold: 2, openUntil: 0 })).toMatchObject({ changed: false, record: { state: 'half_open' } });
      // A lease already ended does not count twice.
      expect(await a.apply(n, { type: 'probeDone', version: v, token: 'p1', ok: true, successThreshold: 2, openUntil: 0 })).toMatchObject({ changed: false });
      const onA = heard(a, n, v + 1);
      const closed = await b.apply(n, { type: 'probeDone', version: v, token: 'p2', ok: true, successThreshold: 2, openUntil: 0 });
      expect(closed).toMatchObject({ changed: true, record: { state: 'closed', version: v + 1, reason: 'probes_succeeded' } });
      expect((await onA).record.state).toBe('closed');
    });

    it('re-opens on a failed probe with the new cooldown', async () => {
      const n = name();
      await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T });
      const p = await b.apply(n, { type: 'acquireProbe', now: T, maxProbes: 1, leaseMs: 5000, token: 'p' });
      const failed = await b.apply(n, { type: 'probeDone', version: p.record.version, token: 'p', ok: false, successThreshold: 1, openUntil: T + 30_000 });
      expect(failed).toMatchObject({ changed: true, record: { state: 'open', reason: 'probe_failed', openUntil: T + 30_000 } });
    });

    it('frees a slot when a probe is released or its lease expires', async () => {
      const n = name();
      await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T });
      const p = await a.apply(n, { type: 'acquireProbe', now: T, maxProbes: 1, leaseMs: 100, token: 'p' });
      expect(p.admitted).toBe(true);
      expect((await b.apply(n, { type: 'acquireProbe', now: T + 50, maxProbes: 1, leaseMs: 100, token: 'q' })).admitted).toBe(false);
      await a.apply(n, { type: 'releaseProbe', version: p.record.version, token: 'p' });
      expect((await b.apply(n, { type: 'acquireProbe', now: T + 50, maxProbes: 1, leaseMs: 100, token: 'q' })).admitted).toBe(true);
      // q's holder crashed: after its lease the slot is free again.
      expect((await a.apply(n, { type: 'acquireProbe', now: T + 149, maxProbes: 1, leaseMs: 100, token: 'r' })).admitted).toBe(false);
      expect((await a.apply(n, { type: 'acquireProbe', now: T + 151, maxProbes: 1, leaseMs: 100, token: 'r' })).admitted).toBe(true);
    });

    it('resets from any state, with a new version heard everywhere', async () => {
      const n = name();
      await a.apply(n, { type: 'open', reason: 'consecutive_failures', openUntil: T + 60_000 });
      const onA = heard(a, n, 2);
      const reset = await b.apply(n, { type: 'reset' });
      expect(reset).toMatchObject({ changed: true, record: { state: 'closed', version: 2, reason: 'reset', openUntil: 0 } });
      expect((await onA).record).toEqual(reset.record);
      expect(await a.apply(n, { type: 'acquireProbe', now: T, maxProbes: 1, leaseMs: 100, token: 'x' })).toMatchObject({ admitted: false, record: { state: 'closed' } });
    });
  });
}
