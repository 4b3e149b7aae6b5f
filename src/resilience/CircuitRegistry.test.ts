import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { circuitBreaker } from './CircuitBreaker.js';
import { CircuitRegistry, defaultRegistry } from './CircuitRegistry.js';
import { RegistryFullError } from './errors.js';

const boom = () => Promise.reject(new Error('boom'));

describe('CircuitRegistry', () => {
  it('getOrCreate creates once, get finds, stats lists, reset resets', async () => {
    const r = new CircuitRegistry();
    const a = r.getOrCreate('a', { threshold: 1 });
    expect(r.getOrCreate('a', { threshold: 9 })).toBe(a);
    expect(r.get('a')).toBe(a);
    expect(r.get('nope')).toBeUndefined();
    r.getOrCreate('b');
    await a.execute(boom).catch(() => undefined);
    expect(r.stats().map((s) => [s.name, s.state])).toEqual([
      ['a', 'open'],
      ['b', 'closed'],
    ]);
    expect(r.reset('a')).toBe(true);
    expect(a.state).toBe('closed');
    expect(r.reset('zzz')).toBe(false);
    await a.execute(boom).catch(() => undefined);
    expect(r.reset()).toBe(true);
    expect(a.state).toBe('closed');
    expect(r.size).toBe(2);
    expect(r.remove('b')).toBe(true);
    expect(r.remove('b')).toBe(false);
  });

  it('fans in events from present and future circuits, only while someone listens', async () => {
    const r = new CircuitRegistry();
    const a = r.getOrCreate('a', { threshold: 1 });
    const changes = vi.fn();
    const failures = vi.fn();
    const off = r.onStateChange(changes);
    r.onFailure(failures);
    r.onSuccess(() => undefined);
    r.onRejected(() => undefined);
    r.onTimeout(() => undefined);
    const b = r.register(circuitBreaker({ name: 'b', threshold: 1 }));
    await a.execute(boom).catch(() => undefined);
    await b.execute(boom).catch(() => undefined);
    expect(changes.mock.calls.map((args) => { const e = args[0] as { name: string; to: string }; return `${e.name}:${e.to}`; })).toEqual(['a:open', 'b:open']);
    expect(failures).toHaveBeenCalledTimes(2);
    off();
    r.reset();
    expect(changes).toHaveBeenCalledTimes(2);
    r.dispose();
    expect(r.size).toBe(0);
  });

  it('is bounded: refuses new circuits when full and counts refusals', () => {
    const r = new CircuitRegistry({ maxCircuits: 2 });
    r.getOrCreate('a');
    r.getOrCreate('b');
    expect(() => r.getOrCreate('c')).toThrow(RegistryFullError);
    expect(() => r.register(circuitBreaker({ name: 'd' }))).toThrow(RegistryFullError);
    expect(r.refusedCount).toBe(2);
    expect(r.getOrCreate('a')).toBe(r.get('a'));
  });

  it('register refuses a second breaker with the same name; validates input', () => {
    const r = new CircuitRegistry();
    const a = circuitBreaker({ name: 'a' });
    expect(r.register(a)).toBe(a);
    expect(r.register(a)).toBe(a);
    expect(() => r.register(circuitBreaker({ name: 'a' }))).toThrow(/already registered/);
    expect(() => r.register({} as never)).toThrow(InvalidOptionsError);
    expect(() => r.getOrCreate('')).toThrow(InvalidOptionsError);
    expect(() => r.getOrCreate('x', { name: 'y' } as never)).toThrow(/first argument/);
    expect(() => r.getOrCreate('x', { threshold: 0 })).toThrow(/threshold/);
    expect(() => new CircuitRegistry({ maxCircuits: 0 })).toThrow(/maxCircuits/);
    expect(() => new CircuitRegistry({ max: 1 } as never)).toThrow(/Unknown option/);
  });

  it('has a default instance', () => {
    expect(defaultRegistry).toBeInstanceOf(CircuitRegistry);
  });
});
