/** Serves the hono app on a Node HTTP server (@hono/node-server) bound to one address. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export interface ListenOptions {
  hostname: string;
  port: number;
}

/** Starts serving `app` and resolves once listening. Rejects when the address cannot be bound. */
export function listen(app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }, { hostname, port }: ListenOptions): Promise<Server> {
  const server = createAdaptorServer({ fetch: app.fetch, hostname, port }) as Server;
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
