import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../common/errors.js';
import { MAX_TIME_MS, normaliseTimeseriesQuery, parseTime } from './query.js';

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isValidationError(err) ? err.field : 'not a ValidationError';
  }
  return undefined;
};

describe('parseTime', () => {
  it('reads ISO-8601 strings, digit strings, Dates and numbers within [0, MAX_TIME_MS]', () => {
    expect(MAX_TIME_MS).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
    expect(parseTime('2026-01-02T03:04:05Z', 'since')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseTime('1700000000000', 'since')).toBe(1_700_000_000_000);
    expect(parseTime(String(MAX_TIME_MS), 'since')).toBe(MAX_TIME_MS);
    expect(parseTime(new Date(5), 'since')).toBe(5);
    expect(parseTime(0, 'since')).toBe(0);
  });

  it('refuses times outside the range and anything that is not a time, naming the field', () => {
    for (const bad of [1e20, MAX_TIME_MS + 1, -1, Number.NaN, Infinity, '100000000000000000000', '1e20', '-5', ' 1', '0x10', '',
      '1969-12-31T23:59:59Z', '9999-12-31T23:59:59-01:00', new Date(Number.NaN), null, {}, 'x'.repeat(41)]) {
      expect(fieldOf(() => parseTime(bad, 'until')), JSON.stringify(bad)).toBe('until');
    }
  });

  it('never returns a value outside the bounds, whatever the string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String)), (value) => {
        let ms: number;
        try {
          ms = parseTime(value, 'since');
        } catch (err) {
          expect(isValidationError(err)).toBe(true);
          return;
        }
        expect(Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME_MS).toBe(true);
      }),
    );
  });

  it('bounds a timeseries over the whole range by its bucket count', () => {
    expect(fieldOf(() => normaliseTimeseriesQuery({ since: 0, until: MAX_TIME_MS, bucketMs: 1000 }))).toBe('bucketMs');
    expect(normaliseTimeseriesQuery({ since: 0, until: MAX_TIME_MS, bucketMs: Math.ceil(MAX_TIME_MS / 1000) }).buckets).toBe(1000);
  });
});
