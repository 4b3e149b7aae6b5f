/**
 * Serves the hono app on a Node HTTP server whose responses carry the constant security headers and the request id
 * as one pre-validated block.
 *
 * Why not `res.setHeader()` or hono's `secureHeaders()`: Node validates every header name and value with regular
 * expressions on each response, and hono would also convert them through fetch `Headers`. Eleven constant headers
 * cost more than the whole response of a bare route (callgrind: 100k instructions per request for a bare hono
 * route, +61k with the eleven headers set per request, +1.5k as a block). The block is validated once, at module
 * load, with Node's own `validateHeaderName`/`validateHeaderValue`; the request id is validated by the app before it
 * is stored on the response.
 */
import { createServer, ServerResponse, validateHeaderName, validateHeaderValue, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';

/**
 * The security headers of every response: the set hono's `secureHeaders()` sends by default, with a same-origin
 * resource policy. The dashboard adds its Content-Security-Policy on its own responses.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

for (const [name, value] of SECURITY_HEADERS) {
  validateHeaderName(name);
  validateHeaderValue(name, value);
}
const SECURITY_BLOCK = SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');

/** The part of Node's `OutgoingMessage` this module extends: `_storeHeader` renders the header block into `_header`. */
interface HeaderInternals {
  _header: string | null;
  _storeHeader(firstLine: string, headers: unknown): void;
}

/** A request id the app may put on the response: only characters that are valid in a header value and in JSON. */
export const REQUEST_ID = /^[\w.-]{1,64}$/;

const requestIds = new WeakMap<ServerResponse, string>();

/**
 * The Node response of the service: the security headers and `X-Request-Id` are appended to the header block
 * Node renders, with no per-response validation.
 */
export class AgentexResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /**
   * Sets the X-Request-Id this response will carry; ignored unless it matches {@link REQUEST_ID}. Kept in a WeakMap,
   * not on the response: a class field on Node's response objects changes their shape, which cost 14k instructions
   * per request for a bare hono route served through this class (callgrind, with and without the field) — more than
   * everything else the class does.
   */
  setRequestId(id: string): void {
    requestIds.set(this, id);
  }

  _storeHeader(firstLine: string, headers: unknown): void {
    (ServerResponse.prototype as unknown as HeaderInternals)._storeHeader.call(this, firstLine, headers);
    const self = this as unknown as HeaderInternals;
    const rendered = self._header;
    if (typeof rendered !== 'string' || !rendered.endsWith('\r\n\r\n')) return;
    const requestId = requestIds.get(this);
    const id = requestId !== undefined && REQUEST_ID.test(requestId) ? `X-Request-Id: ${requestId}\r\n` : '';
    self._header = `${rendered.slice(0, -2)}${SECURITY_BLOCK}${id}\r\n`;
  }
}

/** True when this Node renders headers through `_storeHeader` (checked once; else headers go through setHeader). */
const CAN_APPEND = typeof (ServerResponse.prototype as unknown as Partial<HeaderInternals>)._storeHeader === 'function';

export interface ListenOptions {
  hostname: string;
  port: number;
}

/** Starts serving `app` and resolves once listening. Rejects when the address cannot be bound. */
export function listen(app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }, { hostname, port }: ListenOptions): Promise<Server> {
  const handle = getRequestListener(app.fetch);
  const server = CAN_APPEND
    ? createServer({ ServerResponse: AgentexResponse }, (req, res) => void handle(req, res))
    : createServer((req, res) => {
        for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
        void handle(req, res);
      });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** `http://host:port` of a listening server. */
export function serverUrl(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
