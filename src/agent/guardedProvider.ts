/**
 * Puts a model provider behind the resilience core: `pipeline(retry, breaker, timeout)`. Retries are transient-only
 * (network errors, timeouts, 408/429/5xx) and honour `Retry-After`; the breaker (one per provider, from the registry)
 * opens after repeated failures so a dead provider fails fast; the timeout aborts the HTTP call for real.
 */
import type { CircuitBreakerOptions, CircuitRegistry, RetryOptions } from '../resilience/index.js';
import { defaultRegistry, pipeline, retry, timeout } from '../resilience/index.js';
import type { CompletionRequest, ModelProvider } from './providers/types.js';

/** Per-call model timeout: 60 s. */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;

export interface GuardOptions {
  circuits?: CircuitRegistry;
  breaker?: Omit<CircuitBreakerOptions, 'name'>;
  retry?: RetryOptions;
  timeoutMs?: number;
}

/** Returns a provider whose `complete` runs through retry → breaker → timeout. The circuit is named after the provider. */
export function guardedProvider(provider: ModelProvider, options: GuardOptions = {}): ModelProvider {
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
