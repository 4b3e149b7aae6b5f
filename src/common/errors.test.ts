import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, ValidationError, isAgentexError, isInvalidOptionsError, isValidationError, toError } from './errors.js';
import { assertFunction, assertKnownKeys, assertNumber, assertOneOf, assertString } from './options.js';

describe('error taxonomy', () => {
  it('names errors after their class and exposes stable codes and faults', () => {
    const err = new InvalidOptionsError('breaker.threshold', 'bad');
    expect(err.name).toBe('InvalidOptionsError');
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.fault).toBe('caller');
    expect(isAgentexError(err) && isInvalidOptionsError(err)).toBe(true);
    expect(isValidationError(err)).toBe(false);
    const v = new ValidationError('traceId', 'not hex');
    expect([v.code, v.field, isValidationError(v)]).toEqual(['VALIDATION', 'traceId', true]);
  });

  it('wraps non-Errors, keeping the original as cause', () => {
    const e = toError('boom');
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toContain('boom');
    expect(e.cause).toBe('boom');
    expect(toError({ a: 1 }).message).toContain('{"a":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toError(cyclic).message).toContain('[object Object]');
    expect(toError('x'.repeat(1000)).message.length).toBeLessThan(260);
    const original = new TypeError('t');
    expect(toError(original)).toBe(original);
  });
});

describe('option validation', () => {
  it('rejects unknown keys and non-objects, naming them', () => {
    expect(() => assertKnownKeys('retry', { maxAttemps: 3 }, ['maxAttempts'])).toThrow(/Unknown option `maxAttemps` for retry/);
    expect(() => assertKnownKeys('retry', 5, ['maxAttempts'])).toThrow(/Expected retry options to be an object, got 5/);
    expect(() => assertKnownKeys('retry', undefined, [])).not.toThrow();
  });

  it('checks numbers, ranges and integers, naming option and value', () => {
    expect(() => assertNumber('breaker', 'threshold', -1, { integer: true, min: 1 })).toThrow(
      'Expected `threshold` to be an integer >= 1, got -1',
    );
    expect(() => assertNumber('t', 'ms', NaN)).toThrow('got NaN');
    expect(() => assertNumber('t', 'ms', Infinity)).toThrow();
    expect(assertNumber('t', 'ms', Infinity, { allowInfinity: true })).toBe(Infinity);
    expect(() => assertNumber('t', 'rate', 2, { min: 0, max: 1 })).toThrow('between 0 and 1, got 2');
    expect(() => assertNumber('t', 'n', 1.5, { integer: true })).toThrow('an integer');
    expect(() => assertNumber('t', 'n', '3')).toThrow('got "3"');
  });

  it('checks functions, enums and strings', () => {
    expect(() => assertFunction('b', 'isFailure', 1)).toThrow('to be a function, got 1');
    expect(assertOneOf('r', 'jitter', 'full', ['full', 'none'])).toBe('full');
    expect(() => assertOneOf('r', 'jitter', 'half', ['full', 'none'])).toThrow('one of full, none, got "half"');
    expect(() => assertString('b', 'name', '')).toThrow('non-empty string');
    expect(() => assertString('b', 'name', [], 10)).toThrow('got an array');
  });
});
