import { types } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, ValidationError } from '../common/errors.js';
import { resetCoarseClock } from './clock.js';
import { circuitBreaker, type StateChangeEvent } from './CircuitBreaker.js';
import { CancelledError, CircuitOpenError, HttpStatusError, TimeoutError } from './errors.js';

const boom = (): Promise<never> => Promise.reject(new Error('boom'));
const ok = (): Promise<string> => Promise.resolve('ok');

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function fail(b: { execute: (fn: () => Promise<never>) => Promise<unknown> }, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await b.execute(boom).catch(() => undefined);
}

describe('circuitBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    resetCoarseClock();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetCoarseClock();
  });

  it('opens after `threshold` consecutive failures and rejects at once with CircuitOpenError', async () => {
    const b = circuitBreaker({ name: 'exa', threshold: 3, cooldownMs: 1000 });
    await fail(b, 2);
    await b.execute(ok);
    await fail(b, 2);
    expect(b.state).toBe('closed');
    await fail(b);
    expect(b.state).toBe('open');
    const fn = vi.fn(ok);
    const err = await b.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(err).toBeInstanceOf(Error);
    expect((err as CircuitOpenError).code).toBe('CIRCUIT_OPEN');
    expect((err as CircuitOpenError).circuit).toBe('exa');
    expect((err as CircuitOpenError).retryAfterMs).toBe(1000);
    expect((err as CircuitOpenError).message).toBe('Circuit "exa" is open; retry after 1000 ms');
    expect((err as CircuitOpenError).stack).toContain('CircuitOpenError: Circuit "exa" is open');
    // A real Error: built by the Error constructor, every field an own data property (no prototype getters).
    expect(types.isNativeError(err)).toBe(true);
    expect((err as CircuitOpenError).name).toBe('CircuitOpenError');
    for (const key of ['message', 'stack', 'name', 'code', 'circuit', 'retryAfterMs']) {
      expect(Object.getOwnPropertyDescriptor(err, key), key).toHaveProperty('value');
    }
    const s = b.stats();
    expect(s.counts).toMatchObject({ calls: 6, successes: 1, failures: 5, rejections: 1 });
    expect(s.cooldownRemainingMs).toBe(1000);
    expect(s.lastError).toBe('boom');
  });

  it('goes half-open after the cooldown, closes on a probe success, reopens on a probe failure', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1, cooldownMs: 1000 });
    const changes: StateChangeEvent[] = [];
    b.onStateChange((e) => changes.push(e));
    await fail(b);
    vi.advanceTimersByTime(999);
    expect(b.state).toBe('open');
    expect(b.stats().cooldownRemainingMs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half_open');
    await fail(b);
    expect(b.state).toBe('open');
    expect(b.stats().cooldownRemainingMs).toBe(1000);
    vi.advanceTimersByTime(1000);
    await expect(b.execute(ok)).resolves.toBe('ok');
    expect(b.state).toBe('closed');
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`)).toEqual([
      'closed>open:consecutive_failures',
      'open>half_open:cooldown_elapsed',
      'half_open>open:probe_failed',
      'open>half_open:cooldown_elapsed',
      'half_open>closed:probes_succeeded',
    ]);
  });

  it('lets at most halfOpenMaxProbes through and rejects the rest at once', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1, cooldownMs: 10, halfOpenMaxProbes: 2, successThreshold: 2 });
    await fail(b);
    vi.advanceTimersByTime(10);
    const gates = [deferred<string>(), deferred<string>()];
    const calls = gates.map((g) => b.execute(() => g.promise));
    const third = await b.execute(ok).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CircuitOpenError);
    expect((third as CircuitOpenError).retryAfterMs).toBe(0);
    expect(b.stats().probesInFlight).toBe(2);
    gates[0]!.resolve('a');
    await calls[0];
    expect(b.state).toBe('half_open');
    gates[1]!.resolve('b');
    await calls[1];
    expect(b.state).toBe('closed');
  });

  it('a probe that hangs fails after timeoutMs (or cooldownMs) and reopens the circuit', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1, cooldownMs: 100 });
    await fail(b);
    vi.advanceTimersByTime(100);
    let probeSignal: AbortSignal | undefined;
    const p = b
      .execute(({ signal }) => {
        probeSignal = signal;
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await p).toBeInstanceOf(TimeoutError);
    expect(probeSignal?.aborted).toBe(true);
    expect(b.state).toBe('open');
    expect(b.stats().counts.timeouts).toBe(1);
  });

  it('timeoutMs bounds every call and counts timeouts as failures', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 2, timeoutMs: 50 });
    const seen = vi.fn();
    b.onTimeout(seen);
    const p = b.execute(() => new Promise(() => {})).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await p).toBeInstanceOf(TimeoutError);
    expect(seen).toHaveBeenCalledWith({ name: 'c', timeoutMs: 50 });
    expect(b.stats().counts).toMatchObject({ failures: 1, timeouts: 1 });
  });

  it('does not count caller mistakes as failures by default', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1 });
    await b.execute(() => Promise.reject(new TypeError('bad arg'))).catch(() => undefined);
    await b.execute(() => Promise.reject(new ValidationError('q', 'empty'))).catch(() => undefined);
    await b.execute(() => Promise.reject(new HttpStatusError(404))).catch(() => undefined);
    expect(b.state).toBe('closed');
    expect(b.stats().counts).toMatchObject({ ignored: 3, failures: 0 });
    await b.execute(() => Promise.reject(new HttpStatusError(429))).catch(() => undefined);
    expect(b.state).toBe('open');
  });

  it('isFailure decides what counts; a throwing isFailure counts as failure', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1, isFailure: (e) => e.message === 'counts' });
    await b.execute(() => Promise.reject(new Error('nope'))).catch(() => undefined);
    expect(b.state).toBe('closed');
    await b.execute(() => Promise.reject(new Error('counts'))).catch(() => undefined);
    expect(b.state).toBe('open');
    const c = circuitBreaker({
      name: 'd',
      threshold: 1,
      isFailure: () => {
        throw new Error('classifier bug');
      },
    });
    await fail(c);
    expect(c.state).toBe('open');
  });

  it('wraps a thrown non-Error and a synchronous throw', async () => {
    const b = circuitBreaker({ name: 'c' });
    const err = await b
      .execute(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { weird: true };
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('weird');
    await expect(b.execute(() => 5)).resolves.toBe(5);
  });

  it('countWindow: opens on failure rate once minimumCalls are in the window', async () => {
    const b = circuitBreaker({ name: 'c', policy: 'countWindow', windowSize: 10, minimumCalls: 4, failureRateThreshold: 0.5 });
    await fail(b);
    await b.execute(ok);
    await fail(b);
    expect(b.state).toBe('closed'); // 3 calls < minimumCalls
    await b.execute(ok);
    expect(b.state).toBe('closed'); // 2/4 judged only on failures
    await fail(b);
    expect(b.state).toBe('open');
    expect(b.stats().counts.failures).toBe(3);
  });

  it('countWindow: old outcomes slide out of the window', async () => {
    const b = circuitBreaker({ name: 'c', policy: 'countWindow', windowSize: 4, minimumCalls: 4, failureRateThreshold: 0.75 });
    await fail(b, 2);
    for (let i = 0; i < 4; i++) await b.execute(ok);
    await fail(b, 2);
    expect(b.state).toBe('closed');
    expect(b.stats().window).toEqual({ calls: 4, failures: 2, slow: 0 });
    await fail(b);
    expect(b.state).toBe('open');
  });

  it('timeWindow: judges the calls of the last windowMs only', async () => {
    const b = circuitBreaker({ name: 'c', policy: 'timeWindow', windowMs: 1000, minimumCalls: 3, failureRateThreshold: 0.6 });
    await fail(b, 2);
    vi.advanceTimersByTime(1500);
    await b.execute(ok);
    await fail(b);
    expect(b.state).toBe('closed'); // only 2 calls in the window
    await fail(b);
    expect(b.state).toBe('open');
  });

  it('slow-call rate opens the circuit', async () => {
    const b = circuitBreaker({ name: 'c', slowCallMs: 100, minimumCalls: 2, slowCallRateThreshold: 0.5, windowSize: 10 });
    const slow = () =>
      b.execute(async () => {
        await new Promise((r) => setTimeout(r, 150));
        return 1;
      });
    const p = slow();
    await vi.advanceTimersByTimeAsync(150);
    await p;
    expect(b.state).toBe('closed');
    await b.execute(ok);
    expect(b.state).toBe('closed'); // 1 slow of 2: rate 0.5 but judged on the slow call
    const q = slow();
    await vi.advanceTimersByTimeAsync(150);
    await q;
    expect(b.state).toBe('open');
    expect(b.stats().counts.slowCalls).toBe(2);
  });

  it('a call that started before the circuit opened does not change the new state', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1, cooldownMs: 100 });
    const late = deferred<string>();
    const slowCall = b.execute(() => late.promise);
    await fail(b);
    expect(b.state).toBe('open');
    late.resolve('late');
    await slowCall;
    expect(b.state).toBe('open');
    expect(b.stats().counts.successes).toBe(1);
  });

  it('reset() closes, clears counters, and ignores calls from before the reset', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1 });
    const late = deferred<string>();
    const old = b.execute(() => late.promise).catch(() => undefined);
    await fail(b);
    const changes: string[] = [];
    b.onStateChange((e) => changes.push(`${e.from}>${e.to}:${e.reason}`));
    b.reset();
    expect(b.state).toBe('closed');
    late.reject(new Error('old'));
    await old;
    expect(b.state).toBe('closed');
    expect(b.stats().counts).toEqual({ calls: 0, successes: 0, failures: 0, timeouts: 0, rejections: 0, ignored: 0, slowCalls: 0 });
    expect(b.stats().lastError).toBeNull();
    expect(changes).toEqual(['open>closed:reset']);
  });

  it('events: success, failure, rejected; disposers unsubscribe', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 1 });
    const s = vi.fn();
    const f = vi.fn();
    const r = vi.fn();
    const offS = b.onSuccess(s);
    b.onFailure(f);
    b.onRejected(r);
    await b.execute(ok);
    expect(s).toHaveBeenCalledWith(expect.objectContaining({ name: 'c', durationMs: expect.any(Number) }));
    offS();
    offS();
    await b.execute(ok);
    expect(s).toHaveBeenCalledTimes(1);
    await fail(b);
    expect(f).toHaveBeenCalledWith(expect.objectContaining({ counted: true, error: expect.any(Error) }));
    await b.execute(ok).catch(() => undefined);
    expect(r).toHaveBeenCalledWith({ name: 'c', state: 'open', retryAfterMs: 30_000 });
    b.dispose();
    await b.execute(ok).catch(() => undefined);
    expect(r).toHaveBeenCalledTimes(1);
  });

  it('a throwing listener becomes a process warning, never a failed call', async () => {
    const b = circuitBreaker({ name: 'c' });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    b.onSuccess(() => {
      throw new Error('listener bug');
    });
    await expect(b.execute(ok)).resolves.toBe('ok');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('listener bug'), expect.anything());
    warn.mockRestore();
  });

  it('honours an aborted caller signal without counting a call', async () => {
    const b = circuitBreaker({ name: 'c' });
    const ac = new AbortController();
    ac.abort();
    await expect(b.execute(ok, ac.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(b.stats().counts.calls).toBe(0);
  });

  it('truncates lastError', async () => {
    const b = circuitBreaker({ name: 'c', threshold: 5 });
    await b.execute(() => Promise.reject(new Error('x'.repeat(500)))).catch(() => undefined);
    expect(b.stats().lastError).toHaveLength(201);
    expect(b.stats().lastFailureAt).toBe(Date.now());
  });

  it('validates options, naming the option and the value', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /name/],
      [{}, /name/],
      [{ name: 'x', threshold: -1 }, /threshold.*-1/],
      [{ name: 'x', halfOpenMaxProbes: 0 }, /halfOpenMaxProbes.*0/],
      [{ name: 'x', timeoutMs: Number.NaN }, /timeoutMs.*NaN/],
      [{ name: 'x', cooldownMs: -5 }, /cooldownMs/],
      [{ name: 'x', bogus: 1 }, /Unknown option `bogus`/],
      [{ name: 'x', policy: 'random' }, /policy.*"random"/],
      [{ name: 'x', policy: 'countWindow', threshold: 3 }, /threshold.*does not apply/],
      [{ name: 'x', windowMs: 1000 }, /windowMs/],
      [{ name: 'x', failureRateThreshold: 0.5 }, /failureRateThreshold/],
      [{ name: 'x', policy: 'countWindow', failureRateThreshold: 1.5 }, /failureRateThreshold.*1.5/],
      [{ name: 'x', slowCallRateThreshold: 0.5 }, /slowCallMs/],
      [{ name: 'x', isFailure: 'yes' }, /isFailure/],
      [{ name: '' }, /name/],
    ];
    for (const [options, message] of bad) {
      expect(() => circuitBreaker(options as never), JSON.stringify(options)).toThrow(InvalidOptionsError);
      expect(() => circuitBreaker(options as never)).toThrow(message);
    }
    expect(circuitBreaker({ name: 'x', policy: 'timeWindow', windowMs: 5000, minimumCalls: 5 }).options.windowMs).toBe(5000);
  });
});
