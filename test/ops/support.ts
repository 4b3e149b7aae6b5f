/**
 * Shared helpers for the operations tests: a real service on 127.0.0.1 (port 0) with a temp SQLite store, OTLP
 * request bodies, promtool discovery. Not a test file itself.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startService, type RunningService } from '../../src/server/service.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Tokens built at run time (never a secret-shaped literal in the repository). */
export function testTokens(): { api: string; admin: string } {
  return { api: `api-${randomBytes(16).toString('hex')}`, admin: `admin-${randomBytes(16).toString('hex')}` };
}

export interface TestService {
  service: RunningService;
  dir: string;
  sqlitePath: string;
  tokens: { api: string; admin: string };
  /** Closes the service and removes the temp directory. */
  stop(): Promise<void>;
}

/** Starts the real service on 127.0.0.1:0 with a temp SQLite file, every trace kept, logs silent. */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-ops-'));
  const sqlitePath = path.join(dir, 'agentex.db');
  const tokens = testTokens();
  const service = await startService({
    env: {
      AGENTEX_HOST: '127.0.0.1',
      AGENTEX_PORT: '0',
      AGENTEX_SQLITE_PATH: sqlitePath,
      AGENTEX_API_TOKEN: tokens.api,
      AGENTEX_ADMIN_TOKEN: tokens.admin,
      AGENTEX_SAMPLE_RATE: '1',
      AGENTEX_LOG_LEVEL: 'silent',
      AGENTEX_RATE_LIMIT: '100000',
      AGENTEX_ADMIN_RATE_LIMIT: '100000',
      ...env,
    },
  });
  return {
    service,
    dir,
    sqlitePath,
    tokens,
    async stop() {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OtlpTraceSpec {
  traceId?: string;
  userId?: string;
  agent?: string;
  error?: boolean;
  /** Epoch ms of the root span start. Default: now. */
  startMs?: number;
  spans?: number;
}

/** A random W3C trace id. */
export const traceId = (): string => randomBytes(16).toString('hex');

/** An OTLP/JSON ExportTraceServiceRequest holding one agent trace per spec (a root span and `spans - 1` tool spans). */
export function otlpBody(specs: readonly OtlpTraceSpec[]): { resourceSpans: unknown[] } {
  const spans = specs.flatMap((spec) => {
    const id = spec.traceId ?? traceId();
    const start = BigInt(spec.startMs ?? Date.now()) * 1_000_000n;
    const rootId = randomBytes(8).toString('hex');
    const attrs = [
      { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
      { key: 'gen_ai.agent.name', value: { stringValue: spec.agent ?? 'ops-agent' } },
      ...(spec.userId ? [{ key: 'user.id', value: { stringValue: spec.userId } }] : []),
    ];
    const root = {
      traceId: id,
      spanId: rootId,
      name: `invoke_agent ${spec.agent ?? 'ops-agent'}`,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 50_000_000n),
      attributes: attrs,
      status: spec.error ? { code: 2, message: 'tool failed' } : { code: 1 },
    };
    const children = Array.from({ length: Math.max(0, (spec.spans ?? 1) - 1) }, (_, i) => ({
      traceId: id,
      spanId: randomBytes(8).toString('hex'),
      parentSpanId: rootId,
      name: `execute_tool datetime`,
      startTimeUnixNano: String(start + BigInt(i + 1) * 1_000_000n),
      endTimeUnixNano: String(start + BigInt(i + 2) * 1_000_000n),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'execute_tool' } },
        { key: 'gen_ai.tool.name', value: { stringValue: 'datetime' } },
      ],
      status: { code: 1 },
    }));
    return [root, ...children];
  });
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ops-test' } }] }, scopeSpans: [{ spans }] }] };
}

/** POSTs OTLP/JSON traces and asserts a 200. */
export async function ingest(url: string, token: string, specs: readonly OtlpTraceSpec[]): Promise<void> {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(otlpBody(specs)),
  });
  if (res.status !== 200) throw new Error(`OTLP ingest answered ${res.status}: ${await res.text()}`);
}

/** The path of `promtool`, or null when it is not installed (the tests that need it then skip, saying why). */
export function findPromtool(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.trim() : '';
  return found === '' ? null : found;
}

/** Prints why a suite was skipped, once, where CI logs show it. */
export function reportSkip(what: string, why: string): void {
  console.warn(`[agentex ops tests] SKIPPED ${what}: ${why}`);
}

/** Every sample name in a Prometheus text exposition (`x_bucket`, `x_sum`, `x_count` included). */
export function exposedSampleNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects. Label matchers, grouping label lists, strings, ranges, numbers and
 * Grafana variables are removed first; function names are recognised by the `(` after them.
 */
export function metricNamesInPromql(expr: string): Set<string> {
  const cleaned = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+|ms|s|m|h|d|w|y)?\b/gi, ' ');
  const names = new Set<string>();
  for (const m of cleaned.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (call || PROMQL_WORDS.has(word!.toLowerCase()) || /^\d/.test(word!)) continue;
    // Duration and number suffixes (5m, 1e3) were removed with ranges; a bare word left is a metric name.
    names.add(word!);
  }
  return names;
}

/**
 * The `expr:` values of a Prometheus rules file, single-line or block scalars (`>-`, `|`). The rules files are
 * ours and simple; promtool itself checks that they parse.
 */
export function ruleExpressions(yamlText: string): string[] {
  const lines = yamlText.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:- )?expr: ?(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const indent = m[1]!.length;
    const value = m[2]!.trim();
    if (!/^[>|]-?$/.test(value)) {
      out.push(value.replace(/^'(.*)'$/, '$1'));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || /^\s*/.exec(lines[i + 1]!)![0].length > indent)) {
      block.push(lines[++i]!.trim());
    }
    out.push(block.join(' ').trim());
  }
  return out;
}

/**
 * The sample names a live exposition declares, from its `# TYPE` lines: counters and gauges by name, histograms as
 * `_bucket`/`_sum`/`_count` (a labelled histogram with no observation yet has no sample line, but is declared).
 */
export function declaredSampleNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name! + s);
    else names.add(name!);
  }
  return names;
}
