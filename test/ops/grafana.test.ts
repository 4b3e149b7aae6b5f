/**
 * The Grafana dashboard is valid JSON of the dashboard model, and every query only selects metrics that a running
 * service really declares on /metrics — so renaming a metric breaks this test, not the on-call's dashboard.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredSampleNames, metricNamesInPromql, ROOT, startTestService, type TestService } from './support.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'ops/grafana/agentex.json'), 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const allExprs = () => [
  ...queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable $${v.name}`, expr: (typeof v.query === 'string' ? v.query : v.query.query).replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
];

describe('ops/grafana/agentex.json', () => {
  let svc: TestService;
  let declared: Set<string>;

  beforeAll(async () => {
    svc = await startTestService();
    declared = declaredSampleNames(await (await fetch(`${svc.service.url}/metrics`)).text());
  });
  afterAll(() => svc?.stop());

  it('is a dashboard: uid, title, schema version, unique panel ids, panels inside the 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBe('AgentEx');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(30);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it('gives every panel a Prometheus query through the $datasource variable', () => {
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'job', 'instance']));
    expect(queryPanels.length).toBeGreaterThanOrEqual(10);
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.expr.trim(), `${p.title} ${t.refId}`).not.toBe('');
        // Balanced brackets: a typo here is a broken panel in Grafana.
        for (const [open, close] of ['()', '{}', '[]']) expect(t.expr.split(open!).length, `${p.title}: ${open}${close}`).toBe(t.expr.split(close!).length);
        expect(t.expr, `${p.title} filters by the dashboard's instance`).toMatch(/instance=~"\$instance"/);
      }
    }
  });

  it('only selects metrics the running service declares on /metrics', () => {
    const used = new Set<string>();
    for (const { where, expr } of allExprs()) {
      const names = metricNamesInPromql(expr);
      expect(names.size, `${where} selects a metric`).toBeGreaterThan(0);
      for (const name of names) {
        used.add(name);
        expect(declared.has(name), `${where}: ${name} is declared by the service`).toBe(true);
      }
    }
    // The views the issue asks for: runs by status, error rate, durations, circuit states, trace pipeline counters,
    // store latency, cache hit rate.
    for (const name of [
      'agentex_agent_runs_total',
      'agentex_agent_run_duration_seconds_bucket',
      'agentex_tool_duration_seconds_bucket',
      'agentex_circuit_state',
      'agentex_circuit_calls_total',
      'agentex_traces_total',
      'agentex_store_write_duration_seconds_bucket',
      'agentex_cache_requests_total',
      'agentex_store_up',
      'agentex_ready',
    ]) {
      expect(used, name).toContain(name);
    }
  });
});
