import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { CircuitRegistry } from './CircuitRegistry.js';
import type { Policy } from './context.js';
import { CancelledError, CircuitOpenError, FallbackExhaustedError } from './errors.js';
import { fallback } from './fallback.js';

describe('fallback', () => {
  it('returns the first success with the failures before it', async () => {
    const registry = new CircuitRegistry();
    const chain = fallback(
      [
        { name: 'exa', run: async () => Promise.reject(new Error('exa down')) },
        { name: 'tavily', run: async () => 'from tavily' },
        { name: 'never', run: vi.fn(async () => 'no') },
      ],
      { registry },
    );
    const moves = vi.fn();
    chain.onFallback(moves);
    const res = await chain.execute();
    expect(res.value).toBe('from tavily');
    expect(res.provider).toBe('tavily');
    expect(res.failures.map((f) => [f.provider, f.error.message])).toEqual([['exa', 'exa down']]);
    expect(moves).toHaveBeenCalledWith(expect.objectContaining({ provider: 'exa', next: 'tavily' }));
    expect(registry.names()).toEqual(['exa', 'tavily', 'never']);
  });

  it('each provider sits behind its own breaker: a dead one is skipped without being called', async () => {
    const registry = new CircuitRegistry();
    const exa = vi.fn(async () => Promise.reject(new Error('down')));
    const chain = fallback(
      [
        { name: 'exa', run: exa },
        { name: 'tavily', run: async () => 'ok' },
      ],
      { registry, breaker: { threshold: 1 } },
    );
    await chain.execute();
    const second = await chain.execute();
    expect(exa).toHaveBeenCalledTimes(1);
    expect(second.failures[0]!.error).toBeInstanceOf(CircuitOpenError);
  });

  it('all fail → FallbackExhaustedError carrying every cause', async () => {
    const chain = fallback(
      [
        { name: 'a', run: () => Promise.reject(new Error('A')) },
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        { name: 'b', run: () => { throw 'B'; } },
      ],
      { breaker: false },
    );
    const err = await chain.execute().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FallbackExhaustedError);
    const ex = err as FallbackExhaustedError;
    expect(ex.errors.map((e) => e.provider)).toEqual(['a', 'b']);
    expect(ex.errors[1]!.error).toBeInstanceOf(Error);
    expect(ex.message).toContain('a: A');
  });

  it('stops at once when the caller cancels, or when shouldFallback says no', async () => {
    const ac = new AbortController();
    const b = vi.fn(async () => 'b');
    const chain = fallback(
      [
        {
          name: 'a',
          run: async () => {
            ac.abort();
            throw new Error('A');
          },
        },
        { name: 'b', run: b },
      ],
      { breaker: false },
    );
    await expect(chain.execute(ac.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(b).not.toHaveBeenCalled();

    const stop = fallback(
      [
        { name: 'a', run: async () => Promise.reject(new Error('fatal')) },
        { name: 'b', run: b },
      ],
      { breaker: false, shouldFallback: (e) => e.message !== 'fatal' },
    );
    await expect(stop.execute()).rejects.toThrow('fatal');
    expect(b).not.toHaveBeenCalled();
  });

  it('uses a provider policy when given', async () => {
    const execute = vi.fn(async (fn: (c: { signal: AbortSignal }) => unknown) => fn({ signal: new AbortController().signal }));
    const policy = { execute } as unknown as Policy;
    const chain = fallback([{ name: 'p', run: async () => 5, policy }], { breaker: false });
    await expect(chain.execute()).resolves.toMatchObject({ value: 5, provider: 'p' });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('validates providers and options', () => {
    expect(() => fallback([])).toThrow(InvalidOptionsError);
    expect(() => fallback([{ name: '', run: async () => 1 }])).toThrow(/name/);
    expect(() => fallback([{ name: 'a' } as never])).toThrow(/run/);
    expect(() =>
      fallback(
        [
          { name: 'a', run: async () => 1 },
          { name: 'a', run: async () => 2 },
        ],
        { breaker: false },
      ),
    ).toThrow(/Duplicate provider name "a"/);
    expect(() => fallback([{ name: 'a', run: async () => 1 }], { retries: 2 } as never)).toThrow(/Unknown option/);
    expect(() => fallback([{ name: 'a', run: async () => 1, policy: {} as never }], { breaker: false })).toThrow(/policy/);
    expect(() => fallback([null as never])).toThrow(/provider 0/);
  });
});
