import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture(level: Parameters<typeof createLogger>[0] = 'info') {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, { write: (s: string) => void lines.push(s) }) };
}

describe('createLogger', () => {
  it('writes JSON lines with an ISO time and the service name, censoring secrets by path', () => {
    const { lines, logger } = capture();
    logger.info({ headers: { authorization: 'Bearer s3cret-token-value' }, config: { apiToken: 'x'.repeat(20), port: 1 } }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/s3cret|xxxxxxxx/);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, service: 'agentex', msg: 'hello', headers: { authorization: '[REDACTED]' }, config: { apiToken: '[REDACTED]', port: 1 } });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });

  it('respects its level', () => {
    const { lines, logger } = capture('warn');
    logger.info({}, 'quiet');
    logger.error({}, 'loud');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['loud']);
  });
});
