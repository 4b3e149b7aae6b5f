/**
 * `fallback([...providers])`: tries providers in order (Exa, then Tavily...) and returns the first success. Each
 * provider runs behind its own policy — by default its own circuit breaker, so a dead provider is skipped at once.
 */
import { InvalidOptionsError, toError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertString } from '../common/options.js';
import type { CircuitBreakerOptions } from './CircuitBreaker.js';
import type { CircuitRegistry } from './CircuitRegistry.js';
import { defaultRegistry } from './CircuitRegistry.js';
import type { ExecuteContext, Policy } from './context.js';
import { cancelled, invoke, runIn, scopeOf } from './context.js';
import type { Disposer, Listener } from './Emitter.js';
import { Emitter } from './Emitter.js';
import { CancelledError, FallbackExhaustedError } from './errors.js';

export interface FallbackProvider<T> {
  /** Shown in results, errors and events; also the circuit's name when fallback creates the breaker. */
  name: string;
  run: (ctx: ExecuteContext) => PromiseLike<T> | T;
  /** The policy this provider runs behind (a breaker, a pipeline...). Default: a breaker from the registry. */
  policy?: Policy;
}

export interface FallbackOptions {
  /** Options of the breakers created for providers without a `policy`; `false` to create none. Default `{}`. */
  breaker?: Omit<CircuitBreakerOptions, 'name'> | false;
  /** Where those breakers live (shared by name with other users of the registry). Default `defaultRegistry`. */
  registry?: CircuitRegistry;
  /**
   * Whether to move on to the next provider after `err`. Default: always, except when the caller cancelled
   * (`CancelledError` or an aborted signal), which ends the chain at once.
   */
  shouldFallback?: (err: Error, provider: string) => boolean;
}

export interface FallbackFailure {
  provider: string;
  error: Error;
}

export interface FallbackResult<T> {
  value: T;
  /** Name of the provider that answered. */
  provider: string;
  /** Providers that failed before it, in order. */
  failures: FallbackFailure[];
}

export interface FallbackEvent {
  /** The provider that failed. */
  provider: string;
  error: Error;
  /** The provider tried next. */
  next: string;
}

export interface FallbackChain<T> {
  readonly providers: readonly string[];
  /**
   * Tries each provider in order and resolves with the first success.
   * @throws FallbackExhaustedError carrying every provider's error when all fail; CancelledError when `signal` aborts.
   */
  execute(signal?: AbortSignal): Promise<FallbackResult<T>>;
  /** Called each time the chain moves on to the next provider. Returns a disposer. */
  onFallback(listener: Listener<FallbackEvent>): Disposer;
}

const passthrough: Policy = {
  execute: (fn, signal) => invoke(fn, scopeOf(signal)),
};

/**
 * Builds a fallback chain. Providers without a `policy` get `registry.getOrCreate(name, breaker)`.
 * @throws InvalidOptionsError for an empty list, a provider without a name or `run`, duplicate names, or bad options.
 * @example
 *   const search = fallback([
 *     { name: 'exa', run: ({ signal }) => exa.search(q, { signal }) },
 *     { name: 'tavily', run: ({ signal }) => tavily.search(q, { signal }) },
 *   ], { breaker: { threshold: 3, cooldownMs: 30_000, timeoutMs: 10_000 } });
 *   const { value, provider } = await search.execute(req.signal);
 */
export function fallback<T>(providers: readonly FallbackProvider<T>[], options: FallbackOptions = {}): FallbackChain<T> {
  assertKnownKeys('fallback', options, ['breaker', 'registry', 'shouldFallback']);
  if (!Array.isArray(providers) || providers.length === 0) {
    throw new InvalidOptionsError('fallback.providers', 'Expected a non-empty array of providers');
  }
  const o = options ?? {};
  if (o.shouldFallback !== undefined) assertFunction('fallback', 'shouldFallback', o.shouldFallback);
  const registry = o.registry ?? defaultRegistry;
  const seen = new Set<string>();
  const chain = providers.map((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null) throw new InvalidOptionsError(`fallback.providers[${i}]`, `Expected provider ${i} to be an object`);
    const p = raw as FallbackProvider<T>;
    assertKnownKeys(`fallback.providers[${i}]`, p, ['name', 'run', 'policy']);
    const name = assertString(`fallback.providers[${i}]`, 'name', p.name);
    assertFunction(`fallback.providers[${i}]`, 'run', p.run);
    if (seen.has(name)) throw new InvalidOptionsError(`fallback.providers[${i}].name`, `Duplicate provider name "${name}"`);
    seen.add(name);
    if (p.policy !== undefined && typeof (p.policy as Partial<Policy>).execute !== 'function') {
      throw new InvalidOptionsError(`fallback.providers[${i}].policy`, 'Expected a policy with execute()');
    }
    const policy = p.policy ?? (o.breaker === false ? passthrough : registry.getOrCreate(name, o.breaker ?? {}));
    return { name, run: p.run, policy: policy };
  });
  const shouldFallback = o.shouldFallback ?? (() => true);
  const events = new Emitter<FallbackEvent>();

  return {
    providers: chain.map((p) => p.name),
    onFallback: (listener) => events.on(listener),
    async execute(signal?: AbortSignal): Promise<FallbackResult<T>> {
      const scope = scopeOf(signal);
      const failures: FallbackFailure[] = [];
      for (let i = 0; i < chain.length; i++) {
        const p = chain[i]!;
        if (scope.aborted) throw cancelled(scope);
        try {
          const value = await runIn(p.policy, p.run, scope);
          return { value, provider: p.name, failures };
        } catch (thrown) {
          const error = toError(thrown);
          if (error instanceof CancelledError || scope.aborted) throw scope.aborted ? cancelled(scope) : error;
          failures.push({ provider: p.name, error });
          let goOn: boolean;
          try {
            goOn = shouldFallback(error, p.name) !== false;
          } catch {
            goOn = true;
          }
          if (!goOn) throw error;
          const next = chain[i + 1];
          if (next !== undefined && events.active) events.emit({ provider: p.name, error, next: next.name });
        }
      }
      throw new FallbackExhaustedError(failures);
    },
  };
}
