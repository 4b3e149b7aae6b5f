import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { isReadUrlError, readUrl, readUrlTool } from './readUrl.js';
import type { ReadUrlOptions , ReadUrlError} from './readUrl.js';

let server: http.Server;
let base: string;
let port: number;
const hits: string[] = [];
const sockets = new Set<Socket>();

const PAGE = '<html><head><title>Hello</title><script>var secret = 1;</script></head><body><h1>Welcome</h1><p>Some&nbsp;text.</p></body></html>';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.push(url.pathname);
    const send = (status: number, type: string | undefined, body: string | Buffer, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { ...(type ? { 'content-type': type } : {}), ...extra });
      res.end(body);
    };
    switch (url.pathname) {
      case '/page':
        return send(200, 'text/html; charset=utf-8', PAGE);
      case '/latin1':
        return send(200, 'text/plain; charset=iso-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      case '/badcharset':
        return send(200, 'text/plain; charset=klingon', 'plain');
      case '/json':
        return send(200, 'application/json', '{"a":1}');
      case '/image':
        return send(200, 'image/png', Buffer.alloc(10));
      case '/notype':
        return send(200, undefined, 'x');
      case '/big':
        return send(200, 'text/plain', 'x'.repeat(5000));
      case '/big-chunked':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('x'.repeat(3000));
        res.end('y'.repeat(3000));
        return;
      case '/gzip':
        return send(200, 'text/plain', zlib.gzipSync('z'.repeat(50_000)), { 'content-encoding': 'gzip' });
      case '/gzip-small':
        return send(200, 'text/plain', zlib.gzipSync('compressed hello'), { 'content-encoding': 'gzip' });
      case '/br':
        return send(200, 'text/plain', zlib.brotliCompressSync('brotli hello'), { 'content-encoding': 'br' });
      case '/deflate':
        return send(200, 'text/plain', zlib.deflateSync('deflate hello'), { 'content-encoding': 'deflate' });
      case '/badgzip':
        return send(200, 'text/plain', 'not gzip at all', { 'content-encoding': 'gzip' });
      case '/weird-encoding':
        return send(200, 'text/plain', 'x', { 'content-encoding': 'zstd-ish' });
      case '/hang':
        return; // never answers
      case '/404':
        return send(404, 'text/plain', 'nope');
      case '/503':
        return send(503, 'text/plain', 'busy');
      case '/to-page':
        return send(302, 'text/plain', '', { location: '/page' });
      case '/to-metadata':
        return send(301, 'text/plain', '', { location: 'http://169.254.169.254/latest/meta-data/' });
      case '/to-private':
        return send(307, 'text/plain', '', { location: 'http://10.0.0.7/admin' });
      case '/to-bad':
        return send(302, 'text/plain', '', { location: 'http://[::1' });
      case '/loop':
        return send(302, 'text/plain', '', { location: `/loop?n=${Number(url.searchParams.get('n') ?? 0) + 1}` });
      default:
        return send(404, 'text/plain', 'unknown');
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const ALLOW: ReadUrlOptions = { allow: ['127.0.0.1'] };

async function fail(url: string, options: ReadUrlOptions & { signal?: AbortSignal } = {}): Promise<ReadUrlError> {
  const err = await readUrl(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isReadUrlError(err)).toBe(true);
  return err as ReadUrlError;
}

describe('read_url SSRF protection', () => {
  it.each([
    () => `${base}/page`,
    () => `http://localhost:${port}/page`,
    () => `http://[::1]:${port}/page`,
    () => `http://[::ffff:127.0.0.1]:${port}/page`,
    () => `http://0x7f.0.0.1:${port}/page`,
    () => `http://2130706433:${port}/page`,
    () => 'http://10.0.0.1/',
    () => 'http://192.168.1.1/',
    () => 'http://169.254.169.254/latest/meta-data/',
    () => 'http://[fd00:ec2::254]/latest/meta-data/',
    () => 'http://metadata.google.internal/computeMetadata/v1/',
    () => 'http://0.0.0.0:80/',
  ])('blocks %s by default, without reaching it', async (make) => {
    const before = hits.length;
    const err = await fail(make());
    expect(err.code).toBe('BLOCKED_ADDRESS');
    expect(err.retryable).toBe(false);
    expect(hits.length).toBe(before);
  });

  it('checks every resolved address (a private one among public ones blocks the host)', async () => {
    const resolve = async (): Promise<{ address: string; family: number }[]> => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }];
    const err = await fail('http://mixed.test/', { resolve });
    expect(err).toMatchObject({ code: 'BLOCKED_ADDRESS' });
    expect(err.message).toContain('10.0.0.5');
    const mapped = await fail('http://sneaky.test/', { resolve: async () => [{ address: '::ffff:169.254.169.254', family: 6 }] });
    expect(mapped.message).toContain('metadata');
  });

  it('the allowlist lets a 127.0.0.1 test server through', async () => {
    const page = await readUrl(`${base}/page`, ALLOW);
    expect(page).toMatchObject({ status: 200, contentType: 'text/html', title: 'Hello', truncated: false, redirects: 0 });
    expect(page.text).toBe('Welcome\n\nSome text.');
    expect(page.text).not.toContain('secret');
  });

  it('connects to the address it checked (allowlisted host name resolved by the guard)', async () => {
    const resolve = async (host: string): Promise<{ address: string; family: number }[]> => {
      expect(host).toBe('app.test');
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const page = await readUrl(`http://app.test:${port}/page`, { resolve, allow: ['app.test'] });
    expect(page.title).toBe('Hello');
    // The same name without the allowlist is refused after resolution.
    expect((await fail(`http://app.test:${port}/page`, { resolve })).code).toBe('BLOCKED_ADDRESS');
    // Address allowlisting works through DNS too.
    expect((await readUrl(`http://app.test:${port}/page`, { resolve, allow: ['127.0.0.0/8'] })).status).toBe(200);
  });

  it('re-checks every redirect hop', async () => {
    expect((await fail(`${base}/to-metadata`, ALLOW)).code).toBe('BLOCKED_ADDRESS');
    expect((await fail(`${base}/to-private`, ALLOW)).code).toBe('BLOCKED_ADDRESS');
    expect((await fail(`${base}/to-bad`, ALLOW)).code).toBe('INVALID_URL');
    const ok = await readUrl(`${base}/to-page`, ALLOW);
    expect(ok).toMatchObject({ url: `${base}/page`, redirects: 1, title: 'Hello' });
    const loop = await fail(`${base}/loop`, { ...ALLOW, maxRedirects: 3 });
    expect(loop.code).toBe('TOO_MANY_REDIRECTS');
  });

  it('rejects non-http(s), credentials and garbage', async () => {
    expect((await fail('file:///etc/passwd')).code).toBe('INVALID_URL');
    expect((await fail('ftp://example.com/')).code).toBe('INVALID_URL');
    expect((await fail('http://user:pw@example.com/')).code).toBe('INVALID_URL');
    expect((await fail('not a url')).code).toBe('INVALID_URL');
  });
});

describe('read_url limits and formats', () => {
  it('caps body size (declared, streamed and decompressed)', async () => {
    expect((await fail(`${base}/big`, { ...ALLOW, maxBytes: 1000 })).code).toBe('TOO_LARGE');
    expect((await fail(`${base}/big-chunked`, { ...ALLOW, maxBytes: 4000 })).code).toBe('TOO_LARGE');
    const bomb = await fail(`${base}/gzip`, { ...ALLOW, maxBytes: 10_000 });
    expect(bomb.code).toBe('TOO_LARGE');
  });

  it('decompresses gzip, deflate and brotli', async () => {
    expect((await readUrl(`${base}/gzip-small`, ALLOW)).text).toBe('compressed hello');
    expect((await readUrl(`${base}/br`, ALLOW)).text).toBe('brotli hello');
    expect((await readUrl(`${base}/deflate`, ALLOW)).text).toBe('deflate hello');
    expect((await fail(`${base}/badgzip`, ALLOW)).code).toBe('NETWORK_ERROR');
    expect((await fail(`${base}/weird-encoding`, ALLOW)).code).toBe('UNSUPPORTED_CONTENT_TYPE');
  });

  it('allows only listed content types', async () => {
    const img = await fail(`${base}/image`, ALLOW);
    expect(img.code).toBe('UNSUPPORTED_CONTENT_TYPE');
    expect(img.message).toContain('image/png');
    expect((await fail(`${base}/notype`, ALLOW)).code).toBe('UNSUPPORTED_CONTENT_TYPE');
    expect((await fail(`${base}/json`, { ...ALLOW, allowedContentTypes: ['text/html'] })).code).toBe('UNSUPPORTED_CONTENT_TYPE');
    expect((await readUrl(`${base}/json`, ALLOW)).text).toBe('{"a":1}');
  });

  it('decodes the declared charset and truncates to maxChars', async () => {
    expect((await readUrl(`${base}/latin1`, ALLOW)).text).toBe('café');
    expect((await readUrl(`${base}/badcharset`, ALLOW)).text).toBe('plain');
    const cut = await readUrl(`${base}/big`, { ...ALLOW, maxChars: 100 });
    expect(cut).toMatchObject({ truncated: true, bytes: 5000 });
    expect(cut.text).toHaveLength(100);
  });

  it('times out, cancels, and reports HTTP errors with retryability', async () => {
    const started = Date.now();
    const t = await fail(`${base}/hang`, { ...ALLOW, timeoutMs: 100 });
    expect(t).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(3000);
    const ac = new AbortController();
    const pending = fail(`${base}/hang`, { ...ALLOW, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    expect(await pending).toMatchObject({ code: 'CANCELLED', retryable: false });
    expect(await fail(`${base}/404`, ALLOW)).toMatchObject({ code: 'HTTP_ERROR', status: 404, retryable: false, fault: 'caller' });
    expect(await fail(`${base}/503`, ALLOW)).toMatchObject({ code: 'HTTP_ERROR', status: 503, retryable: true, fault: 'system' });
  });

  it('reports DNS and connection failures', async () => {
    const notFound = await fail('http://nowhere.test/', { resolve: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })) });
    expect(notFound).toMatchObject({ code: 'DNS_ERROR', retryable: false });
    const flaky = await fail('http://nowhere.test/', { resolve: () => Promise.reject(Object.assign(new Error('EAI_AGAIN'), { code: 'EAI_AGAIN' })) });
    expect(flaky).toMatchObject({ code: 'DNS_ERROR', retryable: true });
    expect((await fail('http://empty.test/', { resolve: async () => [] })).code).toBe('DNS_ERROR');
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await fail(`http://127.0.0.1:${closedPort}/`, ALLOW);
    expect(refused).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
    expect(refused.message).toContain('ECONNREFUSED');
  });
});

describe('readUrlTool', () => {
  it('returns structured results', async () => {
    const tool = readUrlTool(ALLOW);
    expect(tool.name).toBe('read_url');
    expect(tool.inputSchema).toMatchObject({ type: 'object', required: ['url'] });
    const ok = await tool.execute({ url: `${base}/page` }, { signal: new AbortController().signal });
    expect(ok.ok && ok.data.title).toBe('Hello');
    const blocked = await readUrlTool().execute({ url: `${base}/page` }, { signal: new AbortController().signal });
    expect(blocked).toEqual({ ok: false, error: { code: 'BLOCKED_ADDRESS', message: expect.stringContaining('127.0.0.1'), retryable: false } });
  });

  it('validates options', () => {
    expect(() => readUrlTool({ maxBytes: 0 })).toThrow(InvalidOptionsError);
    expect(() => readUrlTool({ maxRedirects: 99 })).toThrow(/maxRedirects/);
    expect(() => readUrlTool({ allow: ['10.0.0.0/99'] })).toThrow(/prefix/);
    expect(() => readUrlTool({ allowedContentTypes: [] })).toThrow(/allowedContentTypes/);
    expect(() => readUrlTool({ colour: 'red' } as never)).toThrow(/Unknown option/);
  });
});
