/**
 * The scripted HTTP server every provider emulator is built on: a node:http server on 127.0.0.1 (port 0) that
 * records each request (bounded), validates it through the emulator's own rules, and answers with the next scripted
 * step — a normal reply or an injected fault.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber } from '../common/options.js';

/** Most requests an emulator remembers; older ones are dropped and counted in `droppedRequests`. */
export const MAX_RECORDED_REQUESTS = 1_000;
/** How long a `reset` fault waits after flushing half the body before resetting the connection. */
const RESET_AFTER_MS = 15;
/** Largest request body an emulator accepts (bytes); larger bodies get 413. */
export const MAX_REQUEST_BODY_BYTES = 8 * 1024 * 1024;

/**
 * A fault to inject instead of a normal reply.
 * - `status`: an HTTP error with the provider's own error body (`retryAfter` sets `Retry-After`, in seconds or a date).
 * - `hang`: headers are never sent; the request stays open until the client gives up or the emulator closes.
 * - `reset`: headers and half of a body are sent, then the connection is reset (client sees ECONNRESET mid-body).
 * - `malformed`: 200 with a body that is not valid JSON.
 * - `raw`: any status, headers and body, verbatim.
 */
export type EmulatorFault =
  | { fault: 'status'; status: number; message?: string; retryAfter?: number | string; errorType?: string }
  | { fault: 'hang' }
  | { fault: 'reset' }
  | { fault: 'malformed'; body?: string }
  | { fault: 'raw'; status: number; headers?: Record<string, string>; body: string };

/** Either a normal reply `R` (provider-specific) or a fault; `delayMs` delays the answer (a slow provider). */
export type EmulatorStep<R> = (R | EmulatorFault) & { delayMs?: number };

/** A request as the emulator received it. Credential header values are replaced by `[redacted]`. */
export interface RecordedRequest {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown;
  /** Whether the request carried the expected credentials. */
  readonly authorized: boolean;
  /** What the emulator answered: a status code, or the fault kind for faults that have none. */
  outcome: number | 'hang' | 'reset' | 'pending';
  readonly receivedAt: number;
}

/** The scripted source of answers: called for each valid request once the queue is empty. */
export type EmulatorHandler<R> = (request: RecordedRequest) => EmulatorStep<R> | Promise<EmulatorStep<R>>;

/** Validation verdict from an emulator's rules: undefined when fine. */
export interface Rejection {
  status: number;
  message: string;
  errorType?: string;
}

/** What a concrete emulator plugs into the shared server. */
export interface EmulatorSpec<R> {
  name: string;
  /** The one route served, e.g. `/search`. */
  path: string;
  /** Header names whose values must never be recorded. */
  secretHeaders: readonly string[];
  /** Checks credentials; returns whether the request is authorized. */
  authorize(headers: http.IncomingHttpHeaders, body: unknown): boolean;
  /** Checks the request body's shape like the real API does. */
  validate(body: unknown, headers: http.IncomingHttpHeaders): Rejection | undefined;
  /** Renders a normal reply into a 200 JSON body. */
  render(reply: R, request: RecordedRequest): unknown;
  /** Renders an error body in the provider's own format. */
  renderError(status: number, message: string, errorType: string | undefined): unknown;
  /** The reply used when the queue is empty and no handler is set. */
  defaultReply(request: RecordedRequest): R;
}

/** Options shared by every emulator factory. */
export interface EmulatorOptions<R> {
  /** Initial queue of steps, answered in order before `handler` is consulted. */
  script?: readonly EmulatorStep<R>[];
  /** Answers requests once the queue is empty (default: the emulator's canned reply). */
  handler?: EmulatorHandler<R>;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** How many requests to remember (default {@link MAX_RECORDED_REQUESTS}). */
  maxRecordedRequests?: number;
}

/** A running emulator. */
export interface Emulator<R> {
  /** Base URL, e.g. `http://127.0.0.1:41234`, without a trailing slash. */
  readonly url: string;
  readonly name: string;
  /** Requests received so far (at most {@link MAX_RECORDED_REQUESTS}, oldest dropped first). */
  readonly requests: readonly RecordedRequest[];
  /** How many recorded requests were dropped because of the bound. */
  readonly droppedRequests: number;
  /** How many requests were received in total (including dropped and rejected ones). */
  readonly requestCount: number;
  /** Appends steps to the queue. */
  enqueue(...steps: EmulatorStep<R>[]): void;
  /** Sets the handler used when the queue is empty; `undefined` restores the canned reply. */
  setHandler(handler: EmulatorHandler<R> | undefined): void;
  /** Empties the queue, the handler and the recorded requests. */
  reset(): void;
  /** Subscribes to incoming requests (called before the answer is produced). Returns a disposer. */
  onRequest(listener: (request: RecordedRequest) => void): () => void;
  /** Resolves with the next request to arrive (or the `n`-th from now). */
  nextRequest(n?: number): Promise<RecordedRequest>;
  /** Stops listening and destroys every open socket, so hanging responses never keep a process alive. */
  close(): Promise<void>;
}

function isFault(step: unknown): step is EmulatorFault {
  return typeof step === 'object' && step !== null && 'fault' in step;
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/** Starts a scripted emulator from a spec. Used by the concrete emulator factories. */
export async function startEmulator<R>(spec: EmulatorSpec<R>, options: EmulatorOptions<R> = {}): Promise<Emulator<R>> {
  const where = `${spec.name}Emulator`;
  assertKnownKeys(where, options, ['script', 'handler', 'port', 'maxRecordedRequests']);
  if (options.script !== undefined && !Array.isArray(options.script)) {
    throw new InvalidOptionsError(`${where}.script`, 'Expected `script` to be an array of steps');
  }
  if (options.handler !== undefined && typeof options.handler !== 'function') {
    throw new InvalidOptionsError(`${where}.handler`, 'Expected `handler` to be a function');
  }
  const port = options.port === undefined ? 0 : assertNumber(where, 'port', options.port, { integer: true, min: 0, max: 65535 });

  const maxRecorded = assertNumber(where, 'maxRecordedRequests', options.maxRecordedRequests ?? MAX_RECORDED_REQUESTS, { integer: true, min: 0 });
  const queue: EmulatorStep<R>[] = options.script ? [...(options.script as readonly EmulatorStep<R>[])] : [];
  let handler = options.handler;
  let recorded: RecordedRequest[] = [];
  let dropped = 0;
  let total = 0;
  const listeners = new Set<(r: RecordedRequest) => void>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const record = (r: RecordedRequest): void => {
    total++;
    recorded.push(r);
    if (recorded.length > maxRecorded) {
      recorded.shift();
      dropped++;
    }
    for (const l of [...listeners]) l(r);
  };

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'request-id': `req_${randomUUID().replace(/-/g, '')}`,
      ...headers,
    });
    res.end(text);
  };

  const delay = (ms: number, res: http.ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve(!res.destroyed);
      }, ms);
      timers.add(t);
      res.once('close', () => {
        clearTimeout(t);
        timers.delete(t);
        resolve(false);
      });
    });

  const answer = async (step: EmulatorStep<R>, rec: RecordedRequest, res: http.ServerResponse): Promise<void> => {
    if (step.delayMs !== undefined && step.delayMs > 0) {
      if (!(await delay(step.delayMs, res))) return;
    }
    if (!isFault(step)) {
      rec.outcome = 200;
      sendJson(res, 200, spec.render(step, rec));
      return;
    }
    switch (step.fault) {
      case 'status': {
        rec.outcome = step.status;
        const headers: Record<string, string> = {};
        if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
        sendJson(res, step.status, spec.renderError(step.status, step.message ?? defaultMessage(step.status), step.errorType), headers);
        return;
      }
      case 'hang':
        rec.outcome = 'hang';
        return; // the socket is destroyed by close() or when the client aborts
      case 'reset': {
        rec.outcome = 'reset';
        const text = JSON.stringify(spec.render(spec.defaultReply(rec), rec));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
        // Flush half of the body so the client is mid-body when the RST arrives.
        // Flush half of the body, give the client a moment to start reading it, then send an RST (not a FIN):
        // the client sees ECONNRESET in the middle of the body, like a dropped upstream connection.
        res.write(text.slice(0, Math.max(1, Math.floor(text.length / 2))), () => {
          const t = setTimeout(() => {
            timers.delete(t);
            res.socket?.resetAndDestroy();
          }, RESET_AFTER_MS);
          timers.add(t);
        });
        return;
      }
      case 'malformed': {
        rec.outcome = 200;
        const body = step.body ?? '{"id": "truncated", "content": [';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
        return;
      }
      case 'raw': {
        rec.outcome = step.status;
        res.writeHead(step.status, { 'content-length': String(Buffer.byteLength(step.body)), ...step.headers });
        res.end(step.body);
        return;
      }
    }
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    let parsed = false;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
        parsed = true;
      } catch {
        /* keep the text */
      }
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      headers[k] = spec.secretHeaders.includes(k) ? '[redacted]' : headerText(v);
    }
    const authorized = spec.authorize(req.headers, body);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rec: RecordedRequest = {
      id: randomUUID(),
      method: req.method ?? 'GET',
      path,
      headers,
      body: redactBody(body),
      authorized,
      outcome: 'pending',
      receivedAt: Date.now(),
    };
    record(rec);

    const reject = (status: number, message: string, errorType?: string): void => {
      rec.outcome = status;
      sendJson(res, status, spec.renderError(status, message, errorType));
    };
    if (tooLarge) return reject(413, 'Request body too large', 'request_too_large');
    if (path !== spec.path) return reject(404, `Not found: ${req.method ?? ''} ${path}`, 'not_found_error');
    if (req.method !== 'POST') return reject(405, `Method ${req.method ?? ''} not allowed`, 'invalid_request_error');
    if (!authorized) return reject(401, 'Invalid or missing API key', 'authentication_error');
    if (!parsed) return reject(400, 'Request body is not valid JSON', 'invalid_request_error');
    const invalid = spec.validate(body, req.headers);
    if (invalid) return reject(invalid.status, invalid.message, invalid.errorType);

    let step: EmulatorStep<R>;
    const queued = queue.shift();
    if (queued !== undefined) step = queued;
    else if (handler) step = await handler(rec);
    else step = spec.defaultReply(rec) as EmulatorStep<R>;
    await answer(step, rec, res);
  };

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        const message = err instanceof Error ? err.message : String(err);
        sendJson(res, 500, spec.renderError(500, `Emulator handler failed: ${message}`, 'api_error'));
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  let closed: Promise<void> | undefined;

  const subscribe = (listener: (request: RecordedRequest) => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };

  return {
    url,
    name: spec.name,
    get requests() {
      return recorded;
    },
    get droppedRequests() {
      return dropped;
    },
    get requestCount() {
      return total;
    },
    enqueue(...steps) {
      queue.push(...steps);
    },
    setHandler(h) {
      handler = h;
    },
    reset() {
      queue.length = 0;
      handler = undefined;
      recorded = [];
      dropped = 0;
      total = 0;
    },
    onRequest: subscribe,
    nextRequest(n = 1) {
      return new Promise((resolve) => {
        let seen = 0;
        const dispose = subscribe((r) => {
          if (++seen >= n) {
            dispose();
            resolve(r);
          }
        });
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        listeners.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function defaultMessage(status: number): string {
  return http.STATUS_CODES[status] ?? `HTTP ${status}`;
}

/** Removes body-borne credentials (Tavily's `api_key`) from what is recorded. */
function redactBody(body: unknown): unknown {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'api_key' in body) {
    return { ...(body as Record<string, unknown>), api_key: '[redacted]' };
  }
  return body;
}

/** Rough token estimate used by the model emulators: one token per four characters, at least one. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Small helpers for shape validation in emulator specs. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
