import type { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAccessLog, createLogger, isoTime } from './logger.js';

function capture(level: Parameters<typeof createLogger>[0] = 'info') {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, { write: (s: string) => void lines.push(s) }) };
}

describe('isoTime', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('formats exactly like Date#toISOString, across milliseconds, seconds and days', () => {
    vi.useFakeTimers();
    const starts = [Date.UTC(2026, 10, 25, 11, 59, 59, 998), Date.UTC(2026, 11, 31, 23, 59, 59, 990), Date.UTC(2027, 0, 1, 0, 0, 0, 0)];
    for (const start of starts) {
      for (let step = 0; step < 25; step++) {
        const t = start + step;
        vi.setSystemTime(t);
        expect(isoTime()).toBe(`,"time":"${new Date(t).toISOString()}"`);
      }
    }
  });
});

describe('createAccessLog', () => {
  const entry = { requestId: 'req-1.a_b', method: 'GET', route: '/api/traces/:id', status: 200, ms: 3 };

  it('writes the same line pino writes for the same fields, on the same destination', () => {
    const { lines, logger } = capture();
    logger.info({ ...entry }, 'request');
    createAccessLog(logger)(entry);
    expect(lines).toHaveLength(2);
    const [viaPino, viaAccess] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[1]!.endsWith('\n')).toBe(true);
    expect(Object.keys(viaAccess!)).toEqual(Object.keys(viaPino!));
    expect({ ...viaAccess, time: 0 }).toEqual({ ...viaPino, time: 0 });
  });

  it('logs 5xx at error level and respects the logger level', () => {
    const { lines, logger } = capture('warn');
    const log = createAccessLog(logger);
    log(entry);
    log({ ...entry, status: 503 });
    expect(lines.map((l) => (JSON.parse(l) as { level: number; status: number }))).toEqual([expect.objectContaining({ level: 50, status: 503 })]);
  });

  it('JSON-encodes what it is given, so a strange method or route cannot break the line', () => {
    const { lines, logger } = capture();
    createAccessLog(logger)({ ...entry, method: 'GE"T', route: '/a\\b\n' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ method: 'GE"T', route: '/a\\b\n' });
  });

  it('falls back to the logger methods for a logger that is not pino', () => {
    const calls: unknown[][] = [];
    const fake = { info: (...a: unknown[]) => calls.push(['info', ...a]), error: (...a: unknown[]) => calls.push(['error', ...a]) };
    const log = createAccessLog(fake as unknown as pino.Logger);
    log(entry);
    log({ ...entry, status: 500 });
    expect(calls).toEqual([
      ['info', entry, 'request'],
      ['error', { ...entry, status: 500 }, 'request'],
    ]);
  });
});
