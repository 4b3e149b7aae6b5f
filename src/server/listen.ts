/**
 * Serves the hono app on a Node HTTP server. The constant security headers are set on Node's `ServerResponse`
 * before the app runs: done inside hono, each header goes through fetch `Headers` validation on every response,
 * which halved the throughput of small routes (measured with `npm run bench -- server`).
 */
import { createServer, type Server } from 'node:http';
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

export interface ListenOptions {
  hostname: string;
  port: number;
}

/** Starts serving `app` and resolves once listening. Rejects when the address cannot be bound. */
export function listen(app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }, { hostname, port }: ListenOptions): Promise<Server> {
  const handle = getRequestListener(app.fetch);
  const server = createServer((req, res) => {
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
