import { describe, expect, it } from 'vitest';
import type { TraceStoreCounters } from '../store/TraceStore.js';
import { createMetrics, MAX_HTTP_SERIES, type MetricsSources } from './metrics.js';

function sources(storeCounters: TraceStoreCounters): MetricsSources {
  return {
    circuits: () => [],
    tracePipeline: () => ({ stored: 0, sampledOut: 0, dropped: 0, lost: 0 }),
    cache: () => ({ hits: 0, misses: 0, evictions: 0 }),
    storeUp: () => true,
    storeCounters: () => storeCounters,
    ready: () => true,
  };
}

describe('store counters on /metrics', () => {
  it("exposes the store's own counters as they are at scrape time", async () => {
    const counters: TraceStoreCounters = { tracesWritten: 40, batchesWritten: 4, purged: 12, purgeRuns: 3, purgeErrors: 1, walCheckpoints: 5, walCheckpointErrors: 2, listStatementsEvicted: 3 };
    const metrics = createMetrics(sources(counters), { defaultMetrics: false });
    let text = (await metrics.render()).body;
    expect(text).toMatch(/^agentex_store_purged_traces_total 12$/m);
    expect(text).toMatch(/^agentex_store_purge_errors_total 1$/m);
    expect(text).toMatch(/^agentex_store_wal_checkpoints_total\{result="ok"\} 5$/m);
    expect(text).toMatch(/^agentex_store_wal_checkpoints_total\{result="error"\} 2$/m);
    expect(text).toMatch(/^agentex_store_list_statements_evicted_total 3$/m);
    counters.purged = 30; // read again on the next scrape, never added twice
    text = (await metrics.render()).body;
    expect(text).toMatch(/^agentex_store_purged_traces_total 30$/m);
  });

  it('shows no checkpoint samples for a store without a WAL checkpointer (Postgres, in-memory SQLite)', async () => {
    const metrics = createMetrics(sources({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }), { defaultMetrics: false });
    const text = (await metrics.render()).body;
    expect(text).not.toMatch(/^agentex_store_wal_checkpoints_total\{/m);
    expect(text).toMatch(/^agentex_store_list_statements_evicted_total 0$/m);
  });
});

describe('tool metrics', () => {
  it('labels only registered tools by name: many names from the model stay one `unknown` series', async () => {
    const metrics = createMetrics(sources({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }), { defaultMetrics: false });
    metrics.registerTools(['web_search', 'read_url']);
    metrics.observeTool('web_search', true, 0.2);
    for (let i = 0; i < 500; i++) metrics.observeTool(`made_up_${i}`, false, 0.01);
    const text = (await metrics.render()).body;
    const tools = new Set([...text.matchAll(/^agentex_tool_duration_seconds_count\{tool="([^"]*)"/gm)].map((m) => m[1]));
    expect([...tools].sort()).toEqual(['unknown', 'web_search']);
    expect(text).toMatch(/^agentex_tool_duration_seconds_count\{tool="unknown",result="error"\} 500$/m);
    expect(text).not.toMatch(/made_up/);
  });
});

describe('HTTP metrics', () => {
  it('counts requests and durations per route with prom-client, and bounds the label sets', async () => {
    const metrics = createMetrics(sources({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }), { defaultMetrics: false });
    metrics.observeRequest('GET', '/api/traces', 200, 0.003);
    metrics.observeRequest('GET', '/api/traces', 200, 0.2);
    for (let i = 0; i < MAX_HTTP_SERIES + 50; i++) metrics.observeRequest('GET', `/r${i}`, 200, 0.001);
    const text = (await metrics.render()).body;
    expect(text).toMatch(/^agentex_http_requests_total\{method="GET",route="\/api\/traces",status="200"\} 2$/m);
    expect(text).toMatch(/^agentex_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/traces"\} 1$/m);
    expect(text).toMatch(/^agentex_http_request_duration_seconds_count\{method="GET",route="\/api\/traces"\} 2$/m);
    expect(text).toMatch(/^agentex_http_requests_total\{method="GET",route="other",status="200"\} 51$/m);
    expect([...text.matchAll(/^agentex_http_requests_total\{/gm)].length).toBe(MAX_HTTP_SERIES + 1);
  });
});
