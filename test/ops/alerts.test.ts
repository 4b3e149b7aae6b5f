/**
 * The alert rules: `promtool check rules` and `promtool test rules` (skipped, saying why, only when promtool is not
 * installed), plus checks that need no promtool: every required alert is there with a severity, a summary naming
 * what is affected, and a runbook link to a section that exists in docs/runbook.md.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPromtool, reportSkip, ROOT } from './support.js';

const PROMTOOL = findPromtool();
if (!PROMTOOL) reportSkip('promtool check/test rules', 'promtool is not on PATH (apt-get install prometheus)');

const RULES = path.join(ROOT, 'ops/prometheus/alerts.yml');
const TESTS = path.join(ROOT, 'ops/prometheus/alerts.test.yml');
const rules = readFileSync(RULES, 'utf8');

/** GitHub's anchor for a markdown heading. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

interface AlertBlock {
  name: string;
  text: string;
}

function alerts(): AlertBlock[] {
  const parts = rules.split(/^\s+- alert: /m).slice(1);
  return parts.map((p) => ({ name: p.split('\n')[0]!.trim(), text: p.split(/^\s+- (?:alert|record): /m)[0]! }));
}

describe('ops/prometheus/alerts.yml', () => {
  it.skipIf(!PROMTOOL)('passes promtool check rules', () => {
    const r = spawnSync(PROMTOOL!, ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it.skipIf(!PROMTOOL)('passes its unit tests (promtool test rules): each alert fires on its series and not on the others', () => {
    const r = spawnSync(PROMTOOL!, ['test', 'rules', TESTS], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
  });

  it('has every alert the issue requires, each with a severity, a summary naming what is affected and a runbook link', () => {
    const byName = new Map(alerts().map((a) => [a.name, a.text]));
    const required: [string, RegExp][] = [
      ['AgentexCircuitOpen', /\$labels\.circuit/],
      ['AgentexTraceStorageRateHigh', /\$labels\.instance/],
      ['AgentexAgentErrorRateHigh', /\$labels\.instance/],
      ['AgentexTracesLost', /\$labels\.instance/],
      ['AgentexTraceStoreDown', /\$labels\.instance/],
      ['AgentexTraceStoreWriteErrors', /\$labels\.instance/],
      ['AgentexInstanceNotReady', /\$labels\.instance/],
    ];
    for (const [name, names] of required) {
      const text = byName.get(name);
      expect(text, name).toBeDefined();
      expect(text, name).toMatch(/severity: (critical|warning)/);
      const summary = /summary: (.*)/.exec(text!)?.[1] ?? '';
      expect(summary, `${name} summary`).toMatch(names);
      expect(text, name).toMatch(/runbook_url: '\{\{ \$externalLabels\.agentex_docs_url \}\}\/runbook\.md#[a-z]+'/);
    }
    expect(byName.get('AgentexCircuitOpen')).toMatch(/for: 1m/);
    expect(byName.get('AgentexAgentErrorRateHigh')).toMatch(/\[10m\]|increase10m/);
    expect(rules).toMatch(/traces_stored_per_minute_threshold\n\s+expr: vector\(100\)/);
    expect(rules).toMatch(/agent_run_error_ratio_threshold\n\s+expr: vector\(0\.05\)/);
  });

  it('links every alert to a section that exists in docs/runbook.md', () => {
    const runbook = readFileSync(path.join(ROOT, 'docs/runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{1,4} (.+)$/gm)].map((m) => anchor(m[1]!)));
    const links = [...rules.matchAll(/runbook\.md#([\w-]+)/g)].map((m) => m[1]!);
    expect(links.length).toBe(alerts().length);
    for (const link of links) expect(anchors.has(link), `docs/runbook.md has a section #${link}`).toBe(true);
  });

  it('has a promtool test for every alert, with a case that must fire and one that must not', () => {
    const tests = readFileSync(TESTS, 'utf8');
    for (const { name } of alerts()) {
      const cases = [...tests.matchAll(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:( \\[\\])?`, 'g'))];
      expect(cases.some((c) => c[1] === ' []'), `${name} has a must-not-fire case`).toBe(true);
      expect(cases.some((c) => c[1] === undefined), `${name} has a must-fire case`).toBe(true);
    }
  });
});
