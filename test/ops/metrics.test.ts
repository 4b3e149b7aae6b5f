/**
 * The real /metrics output of a running service (after traffic) is valid for Prometheus — checked by
 * `promtool check metrics` when promtool is installed, and by our own naming checks always — and exposes every
 * metric the alert rules select.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exposedSampleNames, findPromtool, ingest, metricNamesInPromql, reportSkip, ROOT, ruleExpressions, startTestService, type TestService } from './support.js';

const PROMTOOL = findPromtool();
if (!PROMTOOL) reportSkip('promtool check metrics', 'promtool is not on PATH (apt-get install prometheus)');

describe('/metrics of a running service', () => {
  let svc: TestService;
  let exposition: string;

  beforeAll(async () => {
    svc = await startTestService();
    const { url } = svc.service;
    const auth = { authorization: `Bearer ${svc.tokens.api}` };
    await ingest(url, svc.tokens.api, [{ userId: 'u1' }, { userId: 'u2', error: true }, { spans: 3 }]);
    // A circuit that trips: its state and call counters show up with their labels.
    const breaker = svc.service.circuits.getOrCreate('exa', { threshold: 1 });
    await breaker.execute(() => Promise.reject(new Error('exa down'))).catch(() => undefined);
    await svc.service.ingest.flush();
    await svc.service.tracer.forceFlush();
    const page = (await (await fetch(`${url}/api/traces`, { headers: auth })).json()) as { traces: { traceId: string }[] };
    await fetch(`${url}/api/traces/${page.traces[0]!.traceId}`, { headers: auth });
    await fetch(`${url}/api/circuits`, { headers: auth });
    exposition = await (await fetch(`${url}/metrics`)).text();
  });
  afterAll(() => svc?.stop());

  it.skipIf(!PROMTOOL)('passes promtool check metrics', () => {
    const r = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('names only counters with _total and gives every family HELP and TYPE', () => {
    const types = new Map<string, string>();
    for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
    const helps = new Set([...exposition.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!));
    expect(types.size).toBeGreaterThan(10);
    for (const [name, type] of types) {
      expect(helps.has(name), `${name} has HELP`).toBe(true);
      if (name.endsWith('_total')) expect(type, name).toBe('counter');
      expect(name.startsWith('agentex_'), name).toBe(true);
    }
  });

  it('reflects the traffic: circuit state and calls, traces by outcome, runs by status, requests by route', () => {
    expect(exposition).toMatch(/^agentex_circuit_state\{circuit="exa"\} 2$/m);
    expect(exposition).toMatch(/^agentex_circuit_calls_total\{circuit="exa",outcome="failure"\} 1$/m);
    // Ingested traces are assembled in the store and counted apart from the tracer pipeline of our own runs.
    expect(exposition).toMatch(/^agentex_ingest_traces_total\{result="stored"\} 3$/m);
    expect(exposition).toMatch(/^agentex_agent_runs_total\{status="error"\} 1$/m);
    expect(exposition).toMatch(/^agentex_agent_runs_total\{status="success"\} 2$/m);
    expect(exposition).toMatch(/^agentex_http_requests_total\{method="GET",route="\/api\/traces\/:id",status="200"\} 1$/m);
    expect(exposition).toMatch(/^agentex_store_up 1$/m);
    expect(exposition).toMatch(/^agentex_store_purge_errors_total 0$/m);
    expect(exposition).toMatch(/^agentex_store_wal_checkpoints_total\{result="error"\} 0$/m);
    expect(exposition).toMatch(/^agentex_ready 1$/m);
  });

  it('exposes every metric the alert rules select', () => {
    const rules = readFileSync(path.join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8');
    const exprs = ruleExpressions(rules);
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const recorded = new Set([...rules.matchAll(/^\s+- record: (\S+)$/gm)].map((m) => m[1]!));
    const exposed = exposedSampleNames(exposition);
    const used = new Set(exprs.flatMap((e) => [...metricNamesInPromql(e)]));
    expect(used).toContain('agentex_circuit_state');
    for (const name of used) {
      if (recorded.has(name) || name === 'up' || name === 'vector') continue;
      expect(exposed.has(name), `${name} (used by alerts.yml) is exposed by the service`).toBe(true);
    }
  });
});
