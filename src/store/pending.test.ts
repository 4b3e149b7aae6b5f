/** The pure merge rule of OTLP ingest: what a late piece of a stored (ingested) trace may add, and what it may not. */
import { describe, expect, it } from 'vitest';
import { mergeIntoStored } from './pending.js';
import { makeTrace } from './testing/fixtures.js';

describe('mergeIntoStored', () => {
  it('fills metadata keys the stored trace lacks and keeps the stored ones, user and agent', () => {
    const whole = makeTrace({ spans: 4 });
    const [root, ...children] = whole.spans;
    const stored = { ...whole, userId: 'u-1', agent: 'svc', metadata: { source: 'otlp', partial: true, resource: { a: 1 } }, spans: children };
    const incoming = { ...whole, userId: 'u-2', agent: 'agent-x', metadata: { source: 'otlp', sessionId: 's-1', resource: { a: 2 } }, spans: [root!] };
    const m = mergeIntoStored(stored, incoming, 1000);
    expect(m.added).toEqual([root]);
    expect(m.record.metadata).toEqual({ source: 'otlp', sessionId: 's-1', resource: { a: 1 } });
    expect(m.record).toMatchObject({ userId: 'u-1', agent: 'svc' });
    expect(m.conflicts).toBe(2);
  });
});
