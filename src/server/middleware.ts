/**
 * The service's own middleware steps, each a small named factory in hono's shape (hono's `requestId()` and
 * `secureHeaders()` are used as they are): the request log (access log line and request metrics) and the body limit.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import type { RequestIdVariables } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import type { HttpMetrics } from './deps.js';
import type { Logger } from './logger.js';
import { encodeOtlpProtobufStatus } from './otlpProto.js';

/**
 * One access-log line (pino; `error` for 5xx, `info` otherwise) and the request metrics per request. Lines hold
 * the request id, method, route pattern, status and duration — never paths, queries, headers or bodies — and the
 * route is the pattern that matched (also when a guard answered before the handler ran), `unmatched` for none.
 */
export function requestLog(logger: Logger, metrics: Pick<HttpMetrics, 'observeRequest'>): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  return async function requestLog(c, next) {
    const start = performance.now();
    await next();
    const last = matchedRoutes(c).at(-1);
    const route = last && last.method !== 'ALL' ? last.path : 'unmatched';
    const seconds = (performance.now() - start) / 1000;
    const { method } = c.req;
    const status = c.res.status;
    metrics.observeRequest(method, route, status, seconds);
    const entry = { requestId: c.get('requestId'), method, route, status, ms: Math.round(seconds * 1000) };
    if (status >= 500) logger.error(entry, 'request');
    else logger.info(entry, 'request');
  };
}

/**
 * 413 `payload_too_large` for bodies over `maxSize` bytes. On the Node server a body with a Content-Length is held
 * to it by Node's parser, so checking the header is the whole limit and leaves the body to be read straight from the
 * socket; chunked bodies (and in-process requests) go through hono's `bodyLimit`, counted as they are read.
 */
export function bodyLimit(maxSize: number): MiddlewareHandler {
  const tooLarge = (c: Context) => c.json({ error: 'payload_too_large', message: `Body larger than ${maxSize} bytes` }, 413);
  const counted = honoBodyLimit({ maxSize, onError: tooLarge });
  return async function bodyLimit(c, next) {
    const { method } = c.req;
    if (method === 'GET' || method === 'HEAD') return next();
    const onNodeServer = (c.env as { outgoing?: unknown } | undefined)?.outgoing !== undefined;
    if (onNodeServer && c.req.header('transfer-encoding') === undefined) {
      if (Number(c.req.header('content-length') ?? 0) > maxSize) return tooLarge(c);
      return next();
    }
    return counted(c, next);
  };
}

/**
 * OTLP/HTTP failures in the request's encoding: a failure (4xx, 5xx) answered to a protobuf request carries a
 * protobuf `google.rpc.Status` (message, and the bad field as a `google.rpc.BadRequest` detail) with
 * `Content-Type: application/x-protobuf`, as the OTLP spec requires, whichever layer answered (auth 401, rate limit
 * 429, body limit 413, decode 400, backpressure 503). Status code and headers (Retry-After) are kept. JSON requests
 * keep the JSON error body, whose `message` is the Status message.
 */
export function otlpFailureEncoding(): MiddlewareHandler {
  return async function otlpFailureEncoding(c, next) {
    await next();
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-protobuf' || c.res.status < 400) return;
    if (!(c.res.headers.get('content-type') ?? '').startsWith('application/json')) return;
    let message = 'request failed';
    let field: string | undefined;
    try {
      const body = (await c.res.clone().json()) as { message?: unknown; field?: unknown };
      if (typeof body.message === 'string') message = body.message;
      if (typeof body.field === 'string') field = body.field;
    } catch {
      // Not JSON after all: the generic message.
    }
    const status = c.res.status;
    const bytes = encodeOtlpProtobufStatus(status, message, field);
    const headers = new Headers(c.res.headers);
    headers.set('content-type', 'application/x-protobuf');
    headers.delete('content-length');
    // Reset first: assigning over a response merges the old headers into the new one.
    c.res = undefined;
    c.res = new Response(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, { status, headers });
  };
}
