import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, ValidationError } from '../common/errors.js';
import { BulkheadRejectedError, CancelledError, CircuitOpenError, HttpStatusError, TimeoutError } from './errors.js';
import { isCallerError, isTransientError } from './transient.js';

function netError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

describe('isTransientError', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])(
    'retries network error %s',
    (code) => expect(isTransientError(netError(code))).toBe(true),
  );

  it('unwraps fetch failed to its network cause', () => {
    expect(isTransientError(new TypeError('fetch failed', { cause: netError('ECONNRESET') }))).toBe(true);
    expect(isTransientError(new TypeError('fetch failed', { cause: new Error('bad') }))).toBe(false);
    // undici reports a body cut mid-stream as TypeError('terminated') with the socket error as cause.
    const midBody = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(isTransientError(midBody)).toBe(true);
    expect(isCallerError(midBody)).toBe(false);
    expect(isTransientError(new TypeError('terminated'))).toBe(false);
  });

  it('retries timeouts and transient HTTP statuses', () => {
    expect(isTransientError(new TimeoutError(10))).toBe(true);
    expect(isTransientError(new DOMException('t', 'TimeoutError'))).toBe(true);
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isTransientError(new HttpStatusError(status))).toBe(true);
    expect(isTransientError(Object.assign(new Error('sdk'), { status: 503 }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('sdk'), { statusCode: 429 }))).toBe(true);
  });

  it('never retries caller mistakes, open circuits, bulkhead rejections or cancellations', () => {
    for (const err of [
      new TypeError('x is not a function'),
      new RangeError('bad'),
      new ValidationError('f', 'bad'),
      new InvalidOptionsError('o', 'bad'),
      new CircuitOpenError('c', 10),
      new BulkheadRejectedError(1, 0),
      new CancelledError(),
      new HttpStatusError(400),
      new HttpStatusError(404),
      new DOMException('a', 'AbortError'),
      new Error('plain'),
      'string',
      null,
      undefined,
      42,
    ]) {
      expect(isTransientError(err)).toBe(false);
    }
  });

  it('stops following very deep or cyclic cause chains', () => {
    const a: Error & { cause?: unknown } = new TypeError('fetch failed');
    a.cause = a;
    expect(isTransientError(a)).toBe(false);
  });
});

describe('isCallerError', () => {
  it('classifies caller mistakes', () => {
    expect(isCallerError(new TypeError('oops'))).toBe(true);
    expect(isCallerError(new RangeError('oops'))).toBe(true);
    expect(isCallerError(new SyntaxError('oops'))).toBe(true);
    expect(isCallerError(new ValidationError('f', 'bad'))).toBe(true);
    expect(isCallerError(new CancelledError())).toBe(true);
    expect(isCallerError(new HttpStatusError(404))).toBe(true);
    expect(isCallerError(Object.assign(new Error('sdk'), { status: 401 }))).toBe(true);
    expect(isCallerError(new DOMException('a', 'AbortError'))).toBe(true);
  });

  it('does not classify dependency failures as caller mistakes', () => {
    expect(isCallerError(new TypeError('fetch failed', { cause: netError('ECONNREFUSED') }))).toBe(false);
    expect(isCallerError(new HttpStatusError(429))).toBe(false);
    expect(isCallerError(new HttpStatusError(408))).toBe(false);
    expect(isCallerError(new HttpStatusError(503))).toBe(false);
    expect(isCallerError(new TimeoutError(5))).toBe(false);
    expect(isCallerError(new Error('boom'))).toBe(false);
    expect(isCallerError(Object.assign(new Error('sdk'), { status: 500 }))).toBe(false);
    expect(isCallerError('str')).toBe(false);
  });
});
