/**
 * Puts a model provider behind the resilience core: `pipeline(retry, breaker, timeout)`. Retries are transient-only
 * (network errors, timeouts, 408/429/5xx) and honour `Retry-After`; the breaker (one per provider, from the registry)
 * opens after repeated failures so a dead provider fails fast; the timeout aborts the HTTP call for real.
 */
import type { CircuitBreakerOptions, CircuitRegistry, RetryOptions } from '../resilience/index.js';
import { defaultRegistry, pipeline, retry, timeout } from '../resilience/index.js';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber } from '../common/options.js';
import type { CompletionRequest, ModelProvider } from './providers/types.js';

/** Per-call model timeout: 60 s. */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;

export interface GuardOptions {
  /** Where the provider's circuit lives. Default: the process-wide registry. */
  circuits?: CircuitRegistry;
  /** Breaker settings over threshold 3, cooldown 30 s; only applied when the circuit is created. */
  breaker?: Omit<CircuitBreakerOptions, 'name'>;
  /** Retry settings over 3 attempts, 1 s base delay, 30 s cap (a longer Retry-After is not waited for). */
  retry?: RetryOptions;
  /** Per-attempt timeout, ms. Default {@link DEFAULT_MODEL_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Returns a provider whose `complete` runs through retry → breaker → timeout. The circuit is named after the provider.
 * @throws InvalidOptionsError for a missing provider, unknown option keys or invalid breaker/retry/timeout values.
 * @example
 * const model = guardedProvider(anthropicProvider({ apiKey, model: 'claude-sonnet-4-5' }), { timeoutMs: 30_000 });
 */
export function guardedProvider(provider: ModelProvider, options: GuardOptions = {}): ModelProvider {
  if (!provider || typeof provider.complete !== 'function' || typeof provider.name !== 'string') {
    throw new InvalidOptionsError('guardedProvider.provider', 'Expected a ModelProvider with `name` and `complete`');
  }
  assertKnownKeys('guardedProvider', options, ['circuits', 'breaker', 'retry', 'timeoutMs']);
  if (options.timeoutMs !== undefined) assertNumber('guardedProvider', 'timeoutMs', options.timeoutMs, { min: 1 });
  const circuits = options.circuits ?? defaultRegistry;
  const breaker = circuits.getOrCreate(provider.name, { threshold: 3, cooldownMs: 30_000, ...options.breaker });
  const policy = pipeline(
    retry({ maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, ...options.retry }),
    breaker,
    timeout(options.timeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS),
  );
  return {
    name: provider.name,
    model: provider.model,
    complete: (request: CompletionRequest) => policy.execute(({ signal }) => provider.complete({ ...request, signal }), request.signal),
  };
}
