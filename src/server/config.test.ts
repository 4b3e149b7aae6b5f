import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, configurationTable, loadConfig } from './config.js';

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
