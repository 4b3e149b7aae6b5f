import { describe, expect, it } from 'vitest';
import { formatNs, median, table } from './lib.js';

describe('bench helpers', () => {
  it('takes the median of odd and even sized samples', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('formats durations in the unit a reader expects', () => {
    expect(formatNs(812)).toBe('812 ns');
    expect(formatNs(9_400)).toBe('9.40 µs');
    expect(formatNs(3_200_000)).toBe('3.20 ms');
  });

  it('renders a markdown table with a separator row', () => {
    expect(table(['a', 'b'], [['1', '2']])).toBe('| a | b |\n| --- | --- |\n| 1 | 2 |');
  });
});
