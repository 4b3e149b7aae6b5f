/**
 * Where circuit state lives when several processes share it. A breaker keeps a local view and reads only that on
 * its closed path; transitions go through the store atomically and every instance learns of them by subscription.
 *
 * One interface, three backends: in memory (the default, one process: {@link memoryCircuitStateStore}), Redis (Lua
 * scripts + pub/sub) and Postgres (a row per circuit changed under its row lock + LISTEN/NOTIFY), the last two in
 * `agentex/state` so this folder never loads a driver. They share one contract suite and, apart from Redis's Lua
 * copy of it, one reducer ({@link applyCircuitOp}).
 */
import type { CircuitState, StateChangeReason } from './CircuitBreaker.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';

/** A circuit's state as the store holds it. */
export interface SharedCircuitRecord {
  state: CircuitState;
  /** Bumped on every transition; 0 for a circuit never written. */
  version: number;
  /** Epoch ms at which an open circuit lets probes through; 0 unless open. */
  openUntil: number;
  /** Why it got there. */
  reason: StateChangeReason;
}

/**
 * One atomic step. Times are the caller's clock (epoch ms): instances are expected to have synchronised clocks.
 * - `open`: opens a closed or half-open circuit; an open one is left as it is (the first opener's cooldown stands).
 * - `acquireProbe`: an open circuit whose cooldown is over becomes half-open; a half-open one admits the call when
 *   fewer than `maxProbes` leases are live (a lease expires after `leaseMs`, so a crashed instance frees its slot).
 * - `probeDone`: ends the lease `token` taken at `version`; a failure re-opens, the `successThreshold`-th success
 *   (cluster-wide) closes. A lease of another version is ignored.
 * - `releaseProbe`: ends the lease without an outcome (the error did not count).
 * - `reset`: closed, a new version, every lease dropped.
 */
export type CircuitStateOp =
  | { type: 'open'; reason: StateChangeReason; openUntil: number }
  | { type: 'acquireProbe'; now: number; maxProbes: number; leaseMs: number; token: string }
  | { type: 'probeDone'; version: number; token: string; ok: boolean; successThreshold: number; openUntil: number }
  | { type: 'releaseProbe'; version: number; token: string }
  | { type: 'reset' };

export interface CircuitOpResult {
  /** The record after the step. */
  record: SharedCircuitRecord;
  /** The step changed the state (and was published). */
  changed: boolean;
  /** `acquireProbe` only: the call may run as a probe. */
  admitted: boolean;
}

export interface CircuitChange {
  name: string;
  record: SharedCircuitRecord;
}

/** A shared home for circuit state. Implementations: memory (here), Redis and Postgres (`agentex/state`). */
export interface CircuitStateStore {
  readonly backend: 'memory' | 'redis' | 'postgres';
  /** False while the backend is unreachable: breakers then run on their local state. */
  readonly available: boolean;
  /** The record of `name` (closed, version 0, when never written). Rejects when the backend is unreachable. */
  read(name: string): Promise<SharedCircuitRecord>;
  /** Applies one step atomically; a change is published to every subscriber (this process included). Rejects when unreachable. */
  apply(name: string, op: CircuitStateOp): Promise<CircuitOpResult>;
  /** Changes made by any instance, in version order per circuit. */
  onChange(listener: Listener<CircuitChange>): Disposer;
  /** Reachability changes (`true` = back: breakers re-read their records). */
  onAvailability(listener: Listener<boolean>): Disposer;
  /** Releases connections and listeners. Idempotent. */
  close(): Promise<void>;
}

/** What the store keeps per circuit beyond the record. */
export interface StoredCircuit extends SharedCircuitRecord {
  /** Probe lease token → expiry (epoch ms). */
  probes: Record<string, number>;
  probeSuccesses: number;
}

/** Most leases kept per circuit, whatever `maxProbes` says (a bound on the stored row). */
export const MAX_PROBE_LEASES = 1000;

export const CLOSED_RECORD: Readonly<StoredCircuit> = Object.freeze({ state: 'closed', version: 0, openUntil: 0, reason: 'reset', probes: {}, probeSuccesses: 0 });

/**
 * The transition rules, as a pure function: `next` is the circuit to store (the same object when nothing changed).
 * The memory and Postgres stores run it; the Redis script is its Lua transcription (same contract suite).
 */
export function applyCircuitOp(current: StoredCircuit, op: CircuitStateOp): { next: StoredCircuit; result: CircuitOpResult } {
  const bump = (state: CircuitState, reason: StateChangeReason, openUntil: number): StoredCircuit => ({
    state,
    version: current.version + 1,
    openUntil,
    reason,
    probes: {},
    probeSuccesses: 0,
  });
  let next = current;
  let admitted = false;
  switch (op.type) {
    case 'open':
      if (current.state !== 'open') next = bump('open', op.reason, op.openUntil);
      break;
    case 'acquireProbe': {
      if (current.state === 'open' && op.now >= current.openUntil) next = bump('half_open', 'cooldown_elapsed', 0);
      if (next.state === 'half_open') {
        const live = Object.entries(next.probes).filter(([, expiry]) => expiry > op.now);
        if (live.length < Math.min(op.maxProbes, MAX_PROBE_LEASES)) {
          next = { ...next, probes: { ...Object.fromEntries(live), [op.token]: op.now + op.leaseMs } };
          admitted = true;
        }
      }
      break;
    }
    case 'probeDone':
    case 'releaseProbe': {
      if (current.state !== 'half_open' || current.version !== op.version || !(op.token in current.probes)) break;
      const { [op.token]: _ended, ...probes } = current.probes;
      if (op.type === 'releaseProbe') next = { ...current, probes };
      else if (!op.ok) next = bump('open', 'probe_failed', op.openUntil);
      else if (current.probeSuccesses + 1 >= op.successThreshold) next = bump('closed', 'probes_succeeded', 0);
      else next = { ...current, probes, probeSuccesses: current.probeSuccesses + 1 };
      break;
    }
    case 'reset':
      next = bump('closed', 'reset', 0);
      break;
  }
  const changed = next.version !== current.version;
  return { next, result: { record: toRecord(next), changed, admitted } };
}

export function toRecord(c: StoredCircuit): SharedCircuitRecord {
  return { state: c.state, version: c.version, openUntil: c.openUntil, reason: c.reason };
}

/**
 * Circuit state in this process's memory: the default, and what a breaker does without a store. Useful to share state
 * between several breakers or registries of one process, and as the reference the shared stores are tested against.
 * @example
 *   const store = memoryCircuitStateStore();
 *   const a = circuitBreaker({ name: 'exa', stateStore: store });
 */
export function memoryCircuitStateStore(): CircuitStateStore {
  const circuits = new Map<string, StoredCircuit>();
  const changes = new Emitter<CircuitChange>();
  const availability = new Emitter<boolean>();
  return {
    backend: 'memory',
    available: true,
    read(name) {
      return Promise.resolve(toRecord(circuits.get(name) ?? CLOSED_RECORD));
    },
    apply(name, op) {
      const { next, result } = applyCircuitOp(circuits.get(name) ?? CLOSED_RECORD, op);
      circuits.set(name, next);
      // Delivered after the caller's continuation, as a real store's message would be.
      if (result.changed && changes.active) queueMicrotask(() => changes.emit({ name, record: result.record }));
      return Promise.resolve(result);
    },
    onChange: (listener) => changes.on(listener),
    onAvailability: (listener) => availability.on(listener),
    close() {
      changes.clear();
      availability.clear();
      return Promise.resolve();
    },
  };
}

const STATES: ReadonlySet<string> = new Set<CircuitState>(['closed', 'open', 'half_open']);

/** The wire form of a change (Redis message, Postgres notification payload): short keys, well under 8000 bytes. */
export function formatCircuitChange(name: string, r: SharedCircuitRecord): string {
  return JSON.stringify({ n: name, s: r.state, v: r.version, u: r.openUntil, r: r.reason });
}

/** A change read off the wire, or undefined for anything malformed (which is then ignored). */
export function parseCircuitChange(message: string): CircuitChange | undefined {
  try {
    const m = JSON.parse(message) as { n?: unknown; s?: unknown; v?: unknown; u?: unknown; r?: unknown };
    if (typeof m.n !== 'string' || typeof m.s !== 'string' || !STATES.has(m.s) || typeof m.v !== 'number') return undefined;
    return {
      name: m.n,
      record: { state: m.s as CircuitState, version: m.v, openUntil: typeof m.u === 'number' ? m.u : 0, reason: String(m.r) as StateChangeReason },
    };
  } catch {
    return undefined;
  }
}
