import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { bodyLimit, requestLog } from './middleware.js';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const observed: unknown[][] = [];
  const logger = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const app = new Hono();
  app.use(requestId());
  app.use(requestLog(logger, { observeRequest: (...a) => void observed.push(a) }));
  app.use(bodyLimit(16));
  app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
  app.get('/boom', () => {
    throw new Error('kaput');
  });
  app.post('/echo', async (c) => c.text(await c.req.text()));
  app.onError((_e, c) => c.json({ error: 'internal' }, 500));
  return { app, lines, observed };
}

describe('requestLog', () => {
  it('logs one line per request with the route pattern, never the path or query, and observes the metrics', async () => {
    const { app, lines, observed } = setup();
    await app.request('/items/secret-id?token=abc', { headers: { 'x-request-id': 'rid-1' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request', requestId: 'rid-1', method: 'GET', route: '/items/:id', status: 200 });
    expect(JSON.stringify(lines[0])).not.toMatch(/secret-id|token=abc/);
    expect(observed).toEqual([['GET', '/items/:id', 200, expect.any(Number)]]);
  });

  it('logs 5xx at error level and unknown paths as "unmatched"', async () => {
    const { app, lines } = setup();
    await app.request('/boom');
    await app.request('/nowhere');
    expect(lines.map((l) => [l.level, l.route, l.status])).toEqual([
      [50, '/boom', 500],
      [30, 'unmatched', 404],
    ]);
  });
});

describe('bodyLimit', () => {
  it('answers 413 for bodies over the limit and passes smaller ones through', async () => {
    const { app } = setup();
    const big = await app.request('/echo', { method: 'POST', body: 'x'.repeat(17) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'payload_too_large' });
    const small = await app.request('/echo', { method: 'POST', body: 'hello' });
    expect(await small.text()).toBe('hello');
  });
});
