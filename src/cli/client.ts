/**
 * A small client of the AgentEx HTTP API for the CLI (and for scripts). Errors carry the server's message and the
 * HTTP status; the token never appears in an error.
 */
import { AgentexError } from '../common/errors.js';

export class ApiError extends AgentexError {
  readonly code = 'API';
  readonly fault: 'caller' | 'system';

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.fault = status >= 400 && status < 500 ? 'caller' : 'system';
  }
}

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  /** Per-request timeout in ms. Default 30 s (agent runs: 5 min). */
  timeoutMs?: number;
}

export function createClient({ url, token, timeoutMs = 30_000 }: ClientOptions) {
  const base = url.replace(/\/+$/, '');
  async function request<T>(method: string, path: string, body?: unknown, timeout = timeoutMs): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ApiError(0, `Cannot reach the AgentEx service at ${base} (${cause}). Is it running? (agentex serve)`);
    }
    const text = await res.text();
    let data: unknown = undefined;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const d = data as { message?: string; field?: string } | undefined;
      const hint = res.status === 401 ? ' (set AGENTEX_TOKEN, or AGENTEX_ADMIN_TOKEN for admin commands, or pass --token)' : '';
      throw new ApiError(res.status, `${res.status}: ${d?.message ?? res.statusText}${hint}`);
    }
    return data as T;
  }
  return {
    get: <T>(path: string) => request<T>('GET', path),
    post: <T>(path: string, body?: unknown, timeout?: number) => request<T>('POST', path, body ?? {}, timeout),
    delete: <T>(path: string) => request<T>('DELETE', path),
  };
}

export type Client = ReturnType<typeof createClient>;
