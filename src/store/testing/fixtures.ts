/** Test and benchmark fixtures: realistic traces with a span tree. Not part of the public API. */
import { randomBytes } from 'node:crypto';
import type { SpanRecord, TraceRecord, TraceStatus } from '../../trace/model.js';

export function randomTraceId(): string {
  return randomBytes(16).toString('hex');
}

export function randomSpanId(): string {
  return randomBytes(8).toString('hex');
}

export interface TraceFixture {
  traceId?: string;
  userId?: string | number | null;
  agent?: string | null;
  status?: TraceStatus;
  startedAt?: number;
  durationMs?: number | null;
  spans?: number;
  /** Characters of model input/output per llm span (realistic payloads are a few hundred bytes to a few KB). */
  payloadChars?: number;
}

const WORDS = 'the agent searched for recent papers on retrieval augmented generation and summarised the findings'.split(' ');

function text(chars: number, seed: number): string {
  let out = '';
  for (let i = seed; out.length < chars; i++) out += `${WORDS[i % WORDS.length]} `;
  return out.slice(0, chars);
}

/** A trace with an agent root span and alternating llm/tool children. */
export function makeTrace(f: TraceFixture = {}): TraceRecord {
  const traceId = f.traceId ?? randomTraceId();
  const startedAt = f.startedAt ?? Date.now();
  const durationMs = f.durationMs === undefined ? 1234.5 : f.durationMs;
  const status = f.status ?? 'success';
  const n = f.spans ?? 10;
  const payload = f.payloadChars ?? 400;
  const rootId = randomSpanId();
  const spans: SpanRecord[] = [];
  for (let i = 0; i < n; i++) {
    const base = {
      spanId: i === 0 ? rootId : randomSpanId(),
      parentId: i === 0 ? null : rootId,
      name: i === 0 ? 'agent.run' : i % 2 ? 'llm.call' : 'tool.web_search',
      startedAt: startedAt + i * 10.25,
      endedAt: startedAt + i * 10.25 + 9,
      durationMs: 9,
      status: 'ok' as const,
      attributes: { 'gen_ai.system': 'anthropic', iteration: i, cached: false },
    };
    if (i === 0) spans.push({ ...base, kind: 'agent', input: { question: text(payload / 4, i) } });
    else if (i % 2) {
      spans.push({
        ...base,
        kind: 'llm',
        model: 'claude-sonnet',
        usage: { inputTokens: 1200 + i, outputTokens: 300 + i },
        stopReason: 'end_turn',
        input: [{ role: 'user', content: text(payload, i) }],
        output: { role: 'assistant', content: text(payload / 2, i + 3) },
      });
    } else {
      spans.push({
        ...base,
        kind: 'tool',
        toolName: 'web_search',
        circuit: 'tool:web_search',
        input: { query: text(60, i) },
        output: { results: [{ url: `https://example.com/${i}`, title: text(40, i), snippet: text(payload / 2, i) }] },
      });
    }
  }
  return {
    traceId,
    userId: f.userId === undefined ? 'user-1' : f.userId,
    agent: f.agent === undefined ? 'research' : f.agent,
    startedAt,
    endedAt: durationMs === null ? null : startedAt + durationMs,
    durationMs,
    status,
    iterations: Math.ceil(n / 2),
    finalOutput: status === 'running' ? null : text(payload / 2, 7),
    metadata: { requestId: `req-${traceId.slice(0, 8)}`, tags: ['bench'] },
    spans,
    droppedSpans: 0,
    truncated: false,
    keepReason: status === 'error' ? 'error' : 'rate',
  };
}
