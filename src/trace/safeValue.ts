/**
 * Renders any value into plain JSON-safe data, bounded in size and in work, and never throws: cycles, BigInt,
 * functions, symbols, Buffers and typed arrays, Maps and Sets, Dates, Errors, throwing getters or `toJSON`, revoked
 * Proxies and huge strings all come out as short, readable stand-ins.
 */
import { cutKey, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, MAX_KEY_CAPTURE_CHARS, MAX_NODES_PER_VALUE, truncateText } from './bounds.js';

/** How much of a value {@link safeValue} renders. */
export interface SafeValueLimits {
  /** Characters kept per string (a marker shows the cut). Default 1000. */
  maxStringChars?: number;
  /** Nesting depth; deeper values become `[Object]` / `[Array(n)]`. Default {@link DEFAULT_MAX_DEPTH}. */
  maxDepth?: number;
  /** Items per array / keys per object; the rest is summarised. Default {@link DEFAULT_MAX_ITEMS}. */
  maxItems?: number;
  /** Nodes rendered in total. Default {@link MAX_NODES_PER_VALUE}. */
  maxNodes?: number;
}

/** JSON-safe data as rendered by {@link safeValue}. */
export type SafeJson = null | boolean | number | string | SafeJson[] | { [key: string]: SafeJson };

interface Walk {
  maxStringChars: number;
  maxDepth: number;
  maxItems: number;
  nodes: number;
  maxNodes: number;
  ancestors: unknown[];
}

/**
 * Renders `value` as bounded JSON-safe data. Never throws.
 * @example safeValue({ n: 10n, self: cyclic, buf: Buffer.alloc(3) }) // { n: '10n', self: '[Circular]', buf: '[Buffer 3 bytes]' }
 */
export function safeValue(value: unknown, limits: SafeValueLimits = {}): SafeJson {
  const walk: Walk = {
    maxStringChars: limits.maxStringChars ?? 1000,
    maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxItems: limits.maxItems ?? DEFAULT_MAX_ITEMS,
    nodes: 0,
    maxNodes: limits.maxNodes ?? MAX_NODES_PER_VALUE,
    ancestors: [],
  };
  try {
    return render(value, walk, 0);
  } catch {
    return '[Unrenderable]';
  }
}

/** A short, safe one-line description of any thrown value or other object: used where only text fits. */
export function safeText(value: unknown, maxChars = 1000): string {
  if (typeof value === 'string') return truncateText(value, maxChars);
  const rendered = safeValue(value, { maxStringChars: maxChars, maxDepth: 3, maxItems: 20, maxNodes: 200 });
  if (typeof rendered === 'string') return rendered;
  try {
    return truncateText(JSON.stringify(rendered), maxChars);
  } catch {
    return '[Unrenderable]';
  }
}

function render(value: unknown, w: Walk, depth: number): SafeJson {
  if (++w.nodes > w.maxNodes) return '[…]';
  switch (typeof value) {
    case 'string':
      return value.length > w.maxStringChars ? truncateText(value, w.maxStringChars) : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return null;
    case 'symbol':
      return truncateText(value.toString(), w.maxStringChars);
    case 'function':
      return `[Function ${truncateText(value.name || 'anonymous', 100)}]`;
  }
  if (value === null) return null;
  return renderObject(value as object, w, depth);
}

function renderObject(value: object, w: Walk, depth: number): SafeJson {
  if (w.ancestors.includes(value)) return '[Circular]';
  try {
    if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
    if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
    if (value instanceof ArrayBuffer) return `[ArrayBuffer ${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof RegExp) return truncateText(String(value), w.maxStringChars);
    if (value instanceof WeakMap || value instanceof WeakSet) return `[${value.constructor.name}]`;
    if (value instanceof Promise) return '[Promise]';
  } catch {
    return '[Unreadable]';
  }
  if (depth >= w.maxDepth) {
    return Array.isArray(value) ? `[Array(${value.length})]` : '[Object]';
  }
  w.ancestors.push(value);
  try {
    if (value instanceof Error) return renderError(value, w, depth);
    if (Array.isArray(value)) return renderList(value, value.length, w, depth);
    if (value instanceof Set) return renderList([...value], value.size, w, depth);
    if (value instanceof Map) return renderEntries([...value.entries()].map(([k, v]) => [keyText(k), v]), value.size, w, depth);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const json: unknown = toJSON.call(value);
      if (json !== value) return render(json, w, depth);
    }
    const keys = Object.keys(value);
    const entries: [string, unknown][] = [];
    for (const key of keys) {
      if (entries.length >= w.maxItems) break;
      let v: unknown;
      try {
        v = (value as Record<string, unknown>)[key];
      } catch (err) {
        v = `[Unreadable: ${safeErrorName(err)}]`;
      }
      entries.push([key, v]);
    }
    return renderEntries(entries, keys.length, w, depth);
  } catch (err) {
    return `[Unreadable: ${safeErrorName(err)}]`;
  } finally {
    w.ancestors.pop();
  }
}

function renderList(items: readonly unknown[], total: number, w: Walk, depth: number): SafeJson[] {
  const n = Math.min(total, w.maxItems);
  const out: SafeJson[] = new Array<SafeJson>(n);
  for (let i = 0; i < n; i++) out[i] = render(items[i], w, depth + 1);
  if (total > n) out.push(`…[${total - n} more items]`);
  return out;
}

function renderEntries(entries: readonly [string, unknown][], total: number, w: Walk, depth: number): { [key: string]: SafeJson } {
  const out: { [key: string]: SafeJson } = {};
  let n = 0;
  for (const [key, v] of entries) {
    if (n >= w.maxItems) break;
    if (v === undefined) continue;
    n++;
    // Cut keeping the tail: redaction decides on the key (`….password`) after this, and cuts it to its final length.
    out[cutKey(key, MAX_KEY_CAPTURE_CHARS)] = render(v, w, depth + 1);
  }
  const extra = total - Math.min(entries.length, w.maxItems);
  if (extra > 0) out['…'] = `[${extra} more keys]`;
  return out;
}

function renderError(err: Error, w: Walk, depth: number): SafeJson {
  const out: { [key: string]: SafeJson } = {
    type: typeof err.name === 'string' ? err.name : 'Error',
    message: render(err.message, w, depth + 1),
  };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  return out;
}

function keyText(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint') return String(key);
  return Object.prototype.toString.call(key);
}

function safeErrorName(err: unknown): string {
  try {
    return err instanceof Error ? err.name : typeof err;
  } catch {
    return 'error';
  }
}
