/**
 * What every API route module shares: the app's type, the guards a route declares, the documented error responses,
 * and {@link readRoute}/{@link adminRoute} — the one way to declare a guarded route, so its token, its rate limit and
 * its documented 401/429 answers always come together.
 */
import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { RequestIdVariables } from 'hono/request-id';
import type { ServiceDeps } from '../deps.js';
import { ErrorSchema } from '../schemas.js';

export type Env = { Variables: RequestIdVariables };
export type ApiApp = OpenAPIHono<Env>;

/**
 * The guards routes declare. Each one is a rate limit per client followed by a token check, in one middleware, so a
 * route cannot get the token check of one kind and the limit of another.
 */
export interface Guards {
  /** The API's limiter, then a token with the `read` role (the admin token also has it). */
  read: MiddlewareHandler;
  /** The stricter admin limiter, then the admin token. */
  admin: MiddlewareHandler;
  /** The API's limiter alone: public API routes (the dashboard's session exchange). */
  limited: MiddlewareHandler;
  /** Ingest's own limiter, then a token with the `read` role. */
  ingest: MiddlewareHandler;
}

/** What a route module is given. */
export interface RouteContext {
  app: ApiApp;
  deps: ServiceDeps;
  guards: Guards;
}

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
export const AUTH_401 = { 401: json('missing or wrong token') };
export const BAD_400 = { 400: json('invalid request, `field` names what was wrong') };
export const LIMITED_429 = { 429: json('rate limited; see Retry-After') };
export const NOT_FOUND_404 = (what: string) => ({ 404: json(`no such ${what}`) });
export const BEARER = [{ bearerAuth: [] }];

/** A route's OpenAPI description without what the guard helpers fill in. */
type RouteSpec<P extends string> = Omit<RouteConfig, 'path' | 'security' | 'middleware'> & { path: P };

const guarded = <P extends string, R extends RouteSpec<P>, G extends MiddlewareHandler>(guard: G, spec: R) =>
  createRoute({ ...spec, security: BEARER, middleware: [guard] as const, responses: { ...spec.responses, ...AUTH_401, ...LIMITED_429 } });

/** A route for the read (API) token: the API's rate limit, the read role, documented 401 and 429. */
export const readRoute = <P extends string, R extends RouteSpec<P>>(guards: Guards, spec: R) => guarded(guards.read, spec);

/** A route for the admin token: the admin rate limit, the admin role, documented 401 and 429. */
export const adminRoute = <P extends string, R extends RouteSpec<P>>(guards: Guards, spec: R) => guarded(guards.admin, spec);

/** A 400 naming the field that was wrong, with the request id. */
export const json400 = (c: Context<Env>, message: string, field?: string) =>
  c.json({ error: 'invalid_request', message, ...(field ? { field } : {}), requestId: c.get('requestId') }, 400);
