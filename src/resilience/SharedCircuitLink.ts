/**
 * Ties one breaker to a {@link CircuitStateStore}. The breaker keeps deciding on its local view (its closed path never
 * waits on the store); the link pushes the transitions that must be cluster-wide (opening, probe outcomes, resets),
 * asks the store to admit half-open probes, and feeds the breaker every transition made elsewhere. While the store is
 * unreachable the link steps aside and the breaker runs on local state; when it returns the link re-reads the record
 * (an open seen only here is pushed: the more careful state wins).
 */
import { randomBytes } from 'node:crypto';
import type { CircuitState, StateChangeReason } from './CircuitBreaker.js';
import type { CircuitChange, CircuitStateStore, SharedCircuitRecord } from './CircuitStateStore.js';
import type { Disposer } from './Emitter.js';

/** The breaker, as the link drives it. */
export interface LinkedBreaker {
  readonly name: string;
  /**
   * Applies a transition made elsewhere (or decided by the store) to the local view. `fresh`: a new transition (false
   * when re-reading after an outage).
   */
  adopt(record: SharedCircuitRecord, fresh: boolean): void;
  /** The local view, for rejoining: its state and, when open, when the cooldown ends. */
  localView(): { state: CircuitState; openUntil: number; reason: StateChangeReason };
}

/** A half-open probe admitted by the store: hand it back with the outcome. */
export interface ProbeLease {
  token: string;
  version: number;
}

export interface SharedCircuitLinkOptions {
  halfOpenMaxProbes: number;
  successThreshold: number;
  /** How long a probe slot stays taken if its holder never reports (crashed): the probe time limit plus a margin. */
  leaseMs: number;
}

/** One `onChange` subscription per store, fanned out to its links by circuit name. */
const routers = new WeakMap<CircuitStateStore, Map<string, Set<SharedCircuitLink>>>();

function route(store: CircuitStateStore, name: string, link: SharedCircuitLink): Disposer {
  let byName = routers.get(store);
  if (byName === undefined) {
    const table = new Map<string, Set<SharedCircuitLink>>();
    byName = table;
    routers.set(store, table);
    store.onChange((c: CircuitChange) => {
      for (const l of table.get(c.name) ?? []) l.heard(c.record);
    });
  }
  const set = byName.get(name) ?? new Set();
  byName.set(name, set.add(link));
  const table = byName;
  return () => {
    set.delete(link);
    if (set.size === 0) table.delete(name);
  };
}

export class SharedCircuitLink {
  /** The newest shared version this breaker has applied. */
  private version = 0;
  private readonly offRoute: Disposer;
  private readonly offAvailability: Disposer;
  private disposed = false;

  constructor(
    private readonly store: CircuitStateStore,
    private readonly breaker: LinkedBreaker,
    private readonly options: SharedCircuitLinkOptions,
  ) {
    this.offRoute = route(store, breaker.name, this);
    this.offAvailability = store.onAvailability((up) => {
      if (up) this.rejoin();
    });
    if (store.available) this.rejoin();
  }

  /** Whether transitions go through the store now (false: the breaker runs on local state). */
  get active(): boolean {
    return !this.disposed && this.store.available;
  }

  /** Resets of ours not yet heard back from the store (0 or 1: resets in a row are one reset). */
  private ownResets = 0;

  /** A change announced by the store (any instance). */
  heard(record: SharedCircuitRecord, fresh = true): void {
    if (record.version <= this.version || this.disposed) return;
    this.version = record.version;
    // Our own reset coming back (the store's answer or its announcement) was already applied here: resetting again
    // would orphan the calls started since, so a failure right after a reset could never open the circuit.
    if (this.ownResets > 0 && record.state === 'closed' && record.reason === 'reset') {
      this.ownResets--;
      fresh = false;
    }
    this.breaker.adopt(record, fresh);
  }

  /** Applies a record the store answered with (newer than what we know). */
  private learn(record: SharedCircuitRecord): void {
    this.heard(record);
  }

  /** The local policy tripped: open everywhere. Fire and forget; a store already open answers with its own cooldown. */
  opened(reason: StateChangeReason, openUntil: number): void {
    if (!this.active) return;
    this.store.apply(this.breaker.name, { type: 'open', reason, openUntil }).then(
      (r) => this.learn(r.record),
      () => undefined, // unreachable: the local open stands; rejoin pushes it
    );
  }

  /** Reset here: reset everywhere. */
  reset(): void {
    if (!this.active) return;
    this.ownResets = Math.min(this.ownResets + 1, 1);
    this.store.apply(this.breaker.name, { type: 'reset' }).then(
      (r) => this.learn(r.record),
      () => undefined,
    );
  }

  /**
   * Asks the store for a probe slot. Resolves to the lease, to `null` when refused (the record, adopted, says why), or
   * to `undefined` when the store failed (the caller then decides locally).
   */
  async acquire(now: number): Promise<ProbeLease | null | undefined> {
    const token = randomBytes(8).toString('hex');
    try {
      const r = await this.store.apply(this.breaker.name, {
        type: 'acquireProbe',
        now,
        maxProbes: this.options.halfOpenMaxProbes,
        leaseMs: this.options.leaseMs,
        token,
      });
      this.learn(r.record);
      return r.admitted ? { token, version: r.record.version } : null;
    } catch {
      return undefined;
    }
  }

  /**
   * Reports a probe's outcome (`undefined` = the error did not count: the slot is just freed). Resolves true when the
   * store took it (its decision is adopted), false when it failed (the caller then decides locally).
   */
  async probeDone(lease: ProbeLease, ok: boolean | undefined, openUntil: number): Promise<boolean> {
    try {
      const r = await this.store.apply(
        this.breaker.name,
        ok === undefined
          ? { type: 'releaseProbe', version: lease.version, token: lease.token }
          : { type: 'probeDone', version: lease.version, token: lease.token, ok, successThreshold: this.options.successThreshold, openUntil },
      );
      this.learn(r.record);
      return true;
    } catch {
      return false;
    }
  }

  /** Back after an outage (or at start): align with the store, pushing an open seen only here. */
  private rejoin(): void {
    const local = this.breaker.localView();
    const step =
      local.state === 'open'
        ? this.store.apply(this.breaker.name, { type: 'open', reason: local.reason, openUntil: local.openUntil }).then((r) => r.record)
        : this.store.read(this.breaker.name);
    step.then(
      (record) => {
        if (this.disposed) return;
        // Unconditionally: the store may have lost its data (a Redis restart) and count versions from 0 again.
        this.version = record.version - 1;
        this.heard(record, false);
      },
      () => undefined, // still unreachable: the next availability change tries again
    );
  }

  dispose(): void {
    this.disposed = true;
    this.offRoute();
    this.offAvailability();
  }
}
