import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, configurationTable, loadConfig } from './config.js';
import { otlpTracesUrl } from './service.js';

describe('AGENTEX_OTLP_ENDPOINT / AGENTEX_OTLP_HEADERS', () => {
  it('parses name=value pairs (percent-decoded, names lower-cased) and leaves both unset by default', () => {
    const c = loadConfig({ env: { AGENTEX_OTLP_ENDPOINT: 'https://collector.example:4318', AGENTEX_OTLP_HEADERS: 'X-Api-Key=abc=def, x-team=a%2Cb,' } });
    expect(c.otlpEndpoint).toBe('https://collector.example:4318');
    expect(c.otlpHeaders).toEqual({ 'x-api-key': 'abc=def', 'x-team': 'a,b' });
    const none = loadConfig({ env: {} });
    expect(none.otlpEndpoint).toBeUndefined();
    expect(none.otlpHeaders).toBeUndefined();
  });

  it('refuses malformed headers naming the pair or header, never echoing a value', () => {
    const secret = 'hunter2-very-secret';
    const cases: [string, RegExp][] = [
      [`x-api-key${secret}`, /pair 1 has no "="/],
      [`ok=1,bad name=${secret}`, /pair 2 has an invalid header name/],
      [`x-key=%E0%A4%A${secret}`, /header x-key is not valid percent-encoding/],
      [`x-key=${secret}%0d%0aInjected: 1`, /header x-key contains a line break/],
      [Array.from({ length: 33 }, (_, i) => `h${i}=${secret}`).join(','), /at most 32 headers/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        loadConfig({ env: { AGENTEX_OTLP_HEADERS: value } });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).setting).toBe('AGENTEX_OTLP_HEADERS');
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(secret);
    }
    expect(() => loadConfig({ env: { AGENTEX_OTLP_ENDPOINT: 'ftp://collector' } })).toThrow(/^Invalid AGENTEX_OTLP_ENDPOINT: must be a URL/);
  });

  it('appends /v1/traces to an endpoint without a path, and keeps an explicit path', () => {
    expect(otlpTracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('https://otlp.example/api/v2/otlp/v1/traces?tenant=a')).toBe('https://otlp.example/api/v2/otlp/v1/traces?tenant=a');
  });
});

describe('loadConfig', () => {
  it('applies documented defaults with an empty environment', () => {
    const c = loadConfig({ env: {} });
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8787);
    expect(c.sqlitePath).toBe('./data/agentex.db');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.sampleRate).toBe(0.1);
    expect(c.traceTtlDays).toBe(7);
  });

  it('reads env, lets flags win, and coerces numbers', () => {
    const c = loadConfig({
      env: { AGENTEX_PORT: '9000', AGENTEX_DATABASE_URL: 'postgres://u@127.0.0.1/db', AGENTEX_SAMPLE_RATE: '0.5' },
      flags: { '--port': '9100' },
    });
    expect(c.port).toBe(9100);
    expect(c.databaseUrl).toBe('postgres://u@127.0.0.1/db');
    expect(c.sampleRate).toBe(0.5);
  });

  it('stops on a bad value with one line naming the setting', () => {
    expect(() => loadConfig({ env: { AGENTEX_PORT: 'eighty' } })).toThrow(/^Invalid AGENTEX_PORT: .*\(got "eighty"\)$/);
    expect(() => loadConfig({ env: {}, flags: { '--sample-rate': '2' } })).toThrow(/Invalid --sample-rate/);
    expect(() => loadConfig({ env: { AGENTEX_DATABASE_URL: 'mysql://x' } })).toThrow(ConfigError);
  });

  it('never echoes a secret value in the error', () => {
    try {
      loadConfig({ env: { AGENTEX_API_TOKEN: 'short secret' } });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).setting).toBe('AGENTEX_API_TOKEN');
      expect((err as Error).message).not.toContain('short secret');
    }
  });

  it('refuses identical API and admin tokens', () => {
    const t = 'x'.repeat(32);
    expect(() => loadConfig({ env: { AGENTEX_API_TOKEN: t, AGENTEX_ADMIN_TOKEN: t } })).toThrow(/must differ/);
  });

  it('reads a JSON config file by setting or env name, below env in precedence, and rejects unknown keys', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-config-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ port: 7000, AGENTEX_LOG_LEVEL: 'debug', host: '0.0.0.0' }));
    const c = loadConfig({ env: { AGENTEX_HOST: '127.0.0.2' }, configFile: file });
    expect([c.port, c.logLevel, c.host]).toEqual([7000, 'debug', '127.0.0.2']);
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({ env: {}, configFile: file })).toThrow(/Unknown setting "prot"/);
    writeFileSync(file, '{nope');
    expect(() => loadConfig({ env: {}, configFile: file })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ env: {}, configFile: path.join(dir, 'missing.json') })).toThrow(/ENOENT/);
  });

  it('documents every setting in the generated table', () => {
    const t = configurationTable();
    for (const def of Object.values(SETTINGS)) expect(t).toContain(`\`${def.env}\``);
  });
});
