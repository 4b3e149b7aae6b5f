import { describe, expect, it } from 'vitest';
import { runCircuitStateStoreContract } from './circuitStateStore.case.js';
import { applyCircuitOp, CLOSED_RECORD, formatCircuitChange, memoryCircuitStateStore, parseCircuitChange } from './CircuitStateStore.js';

const shared = memoryCircuitStateStore();
runCircuitStateStoreContract('memory', () => Promise.resolve(shared));

describe('circuit state wire form and reducer', () => {
  it('round-trips a change and ignores anything malformed', () => {
    const record = { state: 'open' as const, version: 3, openUntil: 1_700_000_000_123, reason: 'consecutive_failures' as const };
    expect(parseCircuitChange(formatCircuitChange('exa', record))).toEqual({ name: 'exa', record });
    for (const bad of ['', 'null', '{"n":1}', '{"n":"x","s":"weird","v":1}', '{"n":"x","s":"open"}']) expect(parseCircuitChange(bad)).toBeUndefined();
  });

  it('returns the same object when nothing changed', () => {
    const { next, result } = applyCircuitOp(CLOSED_RECORD, { type: 'releaseProbe', version: 0, token: 'x' });
    expect(next).toBe(CLOSED_RECORD);
    expect(result.changed).toBe(false);
  });
});
