import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { TraceStore } from '../store/TraceStore.js';
import { createApp } from './app.js';
import { createMetrics } from './metrics.js';

describe('/health', () => {
  it('serves a flood of health checks from one store ping per second, and reports a store that is down', async () => {
    let pings = 0;
    let up = true;
    const store = {
      ping: async () => {
        pings++;
        return up ? { ok: true as const, latencyMs: 1 } : { ok: false as const, error: 'down' };
      },
    } as unknown as TraceStore;
    const metrics = createMetrics(
      { circuits: () => [], tracePipeline: () => ({ stored: 0, sampledOut: 0, dropped: 0, lost: 0 }), cache: () => ({ hits: 0, misses: 0, evictions: 0 }), storeUp: () => up, storeCounters: () => ({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }), ready: () => true },
      { defaultMetrics: false },
    );
    const app = createApp({
      config: { rateLimit: 100, adminRateLimit: 10, bodyLimitBytes: 1024, requestTimeoutMs: 1000, corsOrigins: '' },
      tokens: { api: 'a'.repeat(20), admin: 'b'.repeat(20) },
      logger: pino({ level: 'silent' }),
      store,
      circuits: { list: () => [], reset: () => false },
      ingest: () => Promise.resolve({ ok: true, acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' }),
      metrics,
      isReady: () => true,
    });
    vi.useFakeTimers({ toFake: ['Date'] });
    const one = async (): Promise<{ store: string }> => {
      const res = await app.request('/health');
      return (await res.json()) as { store: string };
    };
    const answers = await Promise.all(Array.from({ length: 50 }, one));
    expect(answers.every((a) => a.store === 'ok')).toBe(true);
    expect(pings).toBe(1);

    up = false;
    vi.setSystemTime(Date.now() + 1_500);
    try {
      expect(await (await app.request('/health')).json()).toEqual({ status: 'degraded', circuits: {}, store: 'down' });
    } finally {
      vi.useRealTimers();
    }
    expect(pings).toBe(2);
  });

  it('says write_failing (degraded) while writes fail though the ping answers, and a store that is down wins', async () => {
    let writes: 'ok' | 'failing' = 'failing';
    let up = true;
    const store = { ping: async () => (up ? { ok: true as const, latencyMs: 1 } : { ok: false as const, error: 'down' }) } as unknown as TraceStore;
    const metrics = createMetrics(
      { circuits: () => [], tracePipeline: () => ({ stored: 0, sampledOut: 0, dropped: 0, lost: 0 }), cache: () => ({ hits: 0, misses: 0, evictions: 0 }), storeUp: () => up, storeWriteErrors: () => 4, storeCounters: () => ({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }), ready: () => true },
      { defaultMetrics: false },
    );
    const app = createApp({
      config: { rateLimit: 100, adminRateLimit: 10, bodyLimitBytes: 1024, requestTimeoutMs: 1000, corsOrigins: '' },
      tokens: { api: 'a'.repeat(20), admin: 'b'.repeat(20) },
      logger: pino({ level: 'silent' }),
      store,
      circuits: { list: () => [], reset: () => false },
      ingest: () => Promise.resolve({ ok: true, acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' }),
      metrics,
      isReady: () => true,
      storeWrites: () => writes,
    });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      expect(await (await app.request('/health')).json()).toEqual({ status: 'degraded', circuits: {}, store: 'write_failing' });
      writes = 'ok';
      expect(await (await app.request('/health')).json()).toEqual({ status: 'healthy', circuits: {}, store: 'ok' });
      writes = 'failing';
      up = false;
      vi.setSystemTime(Date.now() + 1_500);
      expect(await (await app.request('/health')).json()).toEqual({ status: 'degraded', circuits: {}, store: 'down' });
    } finally {
      vi.useRealTimers();
    }
    expect(await (await app.request('/metrics')).text()).toMatch(/^agentex_store_write_errors_total 4$/m);
  });
});
