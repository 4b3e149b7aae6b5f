/**
 * A named set of circuit breakers, so the HTTP API, the CLI and metrics can list, inspect and reset every circuit.
 */
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import type {
  CircuitBreakerOptions,
  CircuitStats,
  CircuitTimeoutEvent,
  FailureEvent,
  RejectedEvent,
  StateChangeEvent,
  SuccessEvent,
} from './CircuitBreaker.js';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { RegistryFullError } from './errors.js';
import type { CircuitStateStore } from './CircuitStateStore.js';

/** Default bound on the number of circuits one registry holds. */
export const DEFAULT_MAX_CIRCUITS = 1000;

export interface CircuitRegistryOptions {
  /** Most circuits the registry holds; creating one more throws `RegistryFullError`. Default 1000. */
  maxCircuits?: number;
  /**
   * Where circuits created by `getOrCreate` share their state (e.g. Redis or Postgres from `agentex/state`, so that
   * every process opens, probes and resets together). Default: none, each breaker alone. Not closed by the registry.
   */
  stateStore?: CircuitStateStore;
}

interface EventMap {
  stateChange: StateChangeEvent;
  success: SuccessEvent;
  failure: FailureEvent;
  rejected: RejectedEvent;
  timeout: CircuitTimeoutEvent;
}
type EventName = keyof EventMap;
const EVENT_NAMES: readonly EventName[] = ['stateChange', 'success', 'failure', 'rejected', 'timeout'];

function subscribe<K extends EventName>(breaker: CircuitBreaker, event: K, listener: Listener<EventMap[K]>): Disposer {
  switch (event) {
    case 'stateChange':
      return breaker.onStateChange(listener as Listener<StateChangeEvent>);
    case 'success':
      return breaker.onSuccess(listener as Listener<SuccessEvent>);
    case 'failure':
      return breaker.onFailure(listener as Listener<FailureEvent>);
    case 'rejected':
      return breaker.onRejected(listener as Listener<RejectedEvent>);
    default:
      return breaker.onTimeout(listener as Listener<CircuitTimeoutEvent>);
  }
}

/**
 * Holds circuit breakers by name. Registry-level events fan in from every circuit, present and future; a circuit
 * is only subscribed while the registry has a listener for that event, so unobserved events stay free.
 */
export class CircuitRegistry {
  readonly maxCircuits: number;
  /** The store circuits created here share their state through, if any. */
  readonly stateStore: CircuitStateStore | undefined;
  private readonly circuits = new Map<string, CircuitBreaker>();
  /** Creations refused because the registry was full. */
  private refused = 0;
  private readonly emitters: { [K in EventName]: Emitter<EventMap[K]> } = {
    stateChange: new Emitter(),
    success: new Emitter(),
    failure: new Emitter(),
    rejected: new Emitter(),
    timeout: new Emitter(),
  };
  /** Per event, the disposers of our subscriptions to each circuit (present only while someone listens). */
  private readonly links = new Map<EventName, Map<string, Disposer>>();

  /** @throws InvalidOptionsError for unknown keys or a `maxCircuits` that is not an integer ≥ 1. */
  constructor(options: CircuitRegistryOptions = {}) {
    assertKnownKeys('CircuitRegistry', options, ['maxCircuits', 'stateStore']);
    this.stateStore = options?.stateStore;
    this.maxCircuits =
      options?.maxCircuits === undefined
        ? DEFAULT_MAX_CIRCUITS
        : assertNumber('CircuitRegistry', 'maxCircuits', options.maxCircuits, { integer: true, min: 1 });
  }

  /** The circuit named `name`, or undefined. */
  get(name: string): CircuitBreaker | undefined {
    return this.circuits.get(name);
  }

  /**
   * The circuit named `name`, created with `options` if it does not exist yet. Options only apply on creation: an
   * existing circuit is returned as is.
   * @throws InvalidOptionsError for invalid options; RegistryFullError when `maxCircuits` are already held.
   */
  getOrCreate(name: string, options: Omit<CircuitBreakerOptions, 'name'> = {}): CircuitBreaker {
    const existing = this.circuits.get(name);
    if (existing !== undefined) return existing;
    assertString('CircuitRegistry', 'name', name);
    if (options !== null && typeof options === 'object' && 'name' in options) {
      throw new InvalidOptionsError('CircuitRegistry.getOrCreate.name', 'Pass the circuit name as the first argument, not in options');
    }
    this.ensureRoom();
    const breaker = new CircuitBreaker({ ...(this.stateStore ? { stateStore: this.stateStore } : {}), ...options, name });
    this.attach(breaker);
    return breaker;
  }

  /**
   * Adds a breaker created elsewhere.
   * @throws InvalidOptionsError when another breaker already has its name; RegistryFullError when full.
   */
  register(breaker: CircuitBreaker): CircuitBreaker {
    if (!(breaker instanceof CircuitBreaker)) {
      throw new InvalidOptionsError('CircuitRegistry.register', 'Expected a CircuitBreaker created by circuitBreaker()');
    }
    const existing = this.circuits.get(breaker.name);
    if (existing === breaker) return breaker;
    if (existing !== undefined) {
      throw new InvalidOptionsError('CircuitRegistry.register', `A circuit named "${breaker.name}" is already registered`);
    }
    this.ensureRoom();
    this.attach(breaker);
    return breaker;
  }

  /** Removes a circuit (its listeners stay with it). Returns whether it existed. */
  remove(name: string): boolean {
    const breaker = this.circuits.get(name);
    if (breaker === undefined) return false;
    for (const links of this.links.values()) {
      links.get(name)?.();
      links.delete(name);
    }
    return this.circuits.delete(name);
  }

  names(): string[] {
    return [...this.circuits.keys()];
  }

  get size(): number {
    return this.circuits.size;
  }

  /** Creations refused because the registry was full, since construction. */
  get refusedCount(): number {
    return this.refused;
  }

  /** A snapshot of every circuit, in creation order. */
  stats(): CircuitStats[] {
    return [...this.circuits.values()].map((b) => b.stats());
  }

  /** Resets one circuit (returns whether it exists) or, without a name, every circuit (returns true). */
  reset(name?: string): boolean {
    if (name === undefined) {
      for (const b of this.circuits.values()) b.reset();
      return true;
    }
    const b = this.circuits.get(name);
    b?.reset();
    return b !== undefined;
  }

  /** Drops every circuit and every registry listener. The registry stays usable. */
  dispose(): void {
    for (const links of this.links.values()) for (const off of links.values()) off();
    this.links.clear();
    for (const e of Object.values(this.emitters)) e.clear();
    this.circuits.clear();
  }

  onStateChange(listener: Listener<StateChangeEvent>): Disposer {
    return this.listen('stateChange', listener);
  }
  onSuccess(listener: Listener<SuccessEvent>): Disposer {
    return this.listen('success', listener);
  }
  onFailure(listener: Listener<FailureEvent>): Disposer {
    return this.listen('failure', listener);
  }
  onRejected(listener: Listener<RejectedEvent>): Disposer {
    return this.listen('rejected', listener);
  }
  onTimeout(listener: Listener<CircuitTimeoutEvent>): Disposer {
    return this.listen('timeout', listener);
  }

  private listen<K extends EventName>(event: K, listener: Listener<EventMap[K]>): Disposer {
    const emitter = this.emitters[event] as Emitter<EventMap[K]>;
    const off = emitter.on(listener);
    if (!this.links.has(event)) {
      const links = new Map<string, Disposer>();
      this.links.set(event, links);
      for (const b of this.circuits.values()) links.set(b.name, this.link(b, event));
    }
    return () => {
      off();
      if (!emitter.active) {
        const links = this.links.get(event);
        if (links) for (const d of links.values()) d();
        this.links.delete(event);
      }
    };
  }

  private link<K extends EventName>(breaker: CircuitBreaker, event: K): Disposer {
    const emitter = this.emitters[event] as Emitter<EventMap[K]>;
    return subscribe(breaker, event, (e: EventMap[K]) => emitter.emit(e));
  }

  private attach(breaker: CircuitBreaker): void {
    this.circuits.set(breaker.name, breaker);
    for (const event of EVENT_NAMES) this.links.get(event)?.set(breaker.name, this.link(breaker, event));
  }

  private ensureRoom(): void {
    if (this.circuits.size >= this.maxCircuits) {
      this.refused++;
      throw new RegistryFullError(this.maxCircuits);
    }
  }
}

/** The process-wide registry used when none is given (e.g. by `fallback`). Holds nothing until used. */
export const defaultRegistry = new CircuitRegistry();
