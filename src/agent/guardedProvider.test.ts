import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { CircuitRegistry, HttpStatusError } from '../resilience/index.js';
import { guardedProvider } from './guardedProvider.js';
import { scriptedProvider } from './providers/scripted.js';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('guardedProvider', () => {
  it('retries transient failures, names its circuit after the provider, and passes answers through', async () => {
    const circuits = new CircuitRegistry();
    const inner = scriptedProvider([new HttpStatusError(503), { content: 'ok' }], { name: 'm1' });
    const model = guardedProvider(inner, { circuits, retry: { baseDelayMs: 1 } });
    expect((await model.complete(ask)).content).toBe('ok');
    expect(inner.callCount).toBe(2);
    expect(circuits.get('m1')!.stats().counts).toMatchObject({ failures: 1, successes: 1 });
    expect([model.name, model.model]).toEqual(['m1', 'scripted-model']);
  });

  it('does not retry caller errors and aborts a slow call at its timeout', async () => {
    const circuits = new CircuitRegistry();
    const inner = scriptedProvider([new HttpStatusError(400), { content: 'late', delayMs: 5_000 }], { name: 'm2' });
    const model = guardedProvider(inner, { circuits, retry: { maxAttempts: 1 }, timeoutMs: 30 });
    await expect(model.complete(ask)).rejects.toMatchObject({ status: 400 });
    await expect(model.complete(ask)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(inner.callCount).toBe(2);
  });

  it('validates its options', () => {
    const inner = scriptedProvider([]);
    expect(() => guardedProvider(undefined as never)).toThrow(InvalidOptionsError);
    expect(() => guardedProvider(inner, { timeout: 5 } as never)).toThrow(/timeout/);
    expect(() => guardedProvider(inner, { timeoutMs: 0, circuits: new CircuitRegistry() })).toThrow(/timeoutMs/);
  });
});
