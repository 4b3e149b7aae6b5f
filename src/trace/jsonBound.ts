/**
 * An upper bound on the UTF-8 size of a record's JSON, so that the byte cap measures (`JSON.stringify` and
 * `Buffer.byteLength`, ~2 µs per span) only the traces that may really exceed it. Why: measuring every large trace
 * made a span of a 1,000-span trace cost twice one of a 50-span trace (see docs/benchmarks.md).
 */
import type { SpanRecord } from './model.js';

/** UTF-8 bytes of `s` as a JSON string, quotes included, at most: an escape is ≤ 6 bytes, a UTF-16 unit ≤ 3. */
export function stringBound(s: string): number {
  let n = s.length + 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) n += 1; // \" and \\
    } else if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) {
      n += 5; // \u00XX, or a lone surrogate's \uDXXX (a pair, 4 bytes, is counted as 12)
    } else if (c >= 0x80) {
      n += 2;
    }
  }
  return n;
}

/**
 * Characters of `String(n)` at most, without converting it: exact for integers below 1e15 and for numbers with at
 * most 3 decimals (`4.5`); otherwise a sign, 17 significant digits, a point and leading zeros (`0.000`), or 25.
 */
export function numberBound(n: number): number {
  if (!Number.isFinite(n)) return 4; // null
  const sign = n < 0 ? 1 : 0;
  const a = n < 0 ? -n : n;
  if (a >= 1e21 || (a < 1e-6 && a !== 0)) return 25; // exponent form: -1.2345678901234567e-308
  if (Number.isInteger(a)) return a < 1e15 ? sign + digits(a) : 22; // an integer below 1e21 is written out
  const intDigits = a < 1 ? 1 : digits(Math.floor(a));
  // If m / 10^k (IEEE division is correctly rounded) is `a`, that decimal reads back as `a`, and the shortest one
  // JavaScript writes has at most its digits.
  for (let k = 1, p = 10; k <= 3; k++, p *= 10) if (Math.round(a * p) / p === a) return sign + intDigits + 1 + k;
  if (a >= 1) return sign + 18; // a non-integer is below 2^53: 17 significant digits and a point
  let zeros = 0;
  while (zeros < 5 && a < TENTHS[zeros]!) zeros++;
  return sign + 2 + zeros + 17;
}

/** Literals, not computed powers (`0.1 / 10` is not the double nearest 0.01). */
const TENTHS = [0.1, 0.01, 0.001, 0.0001, 0.00001];

function digits(int: number): number {
  let d = 1;
  for (let p = 10; p <= int; p *= 10) d++;
  return d;
}

/** An upper bound on the UTF-8 size of `JSON.stringify(value)` for the plain data of records. */
export function jsonBound(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return stringBound(value);
    case 'number':
      return numberBound(value);
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += jsonBound(v) + 1;
        return n;
      }
      const obj = value as Record<string, unknown>;
      for (const key in obj) n += stringBound(key) + jsonBound(obj[key]) + 2;
      return n;
    }
    default:
      return 4; // undefined is left out of objects and `null` in arrays
  }
}

/** The keys, colons, commas and braces of a span record's fixed fields. */
const SPAN_KEYS_BYTES = JSON.stringify({ spanId: 0, parentId: 0, kind: 0, name: 0, startedAt: 0, endedAt: 0, durationMs: 0, status: 0, attributes: 0 }).length - 9;
const OPTIONAL_KEYS = ['error', 'input', 'output', 'model', 'usage', 'stopReason', 'toolName', 'circuit'] as const;

/** {@link jsonBound} of a span record, with its fixed fields summed directly (this runs for every kept span). */
export function spanBound(rec: SpanRecord): number {
  let n =
    SPAN_KEYS_BYTES +
    stringBound(rec.spanId) +
    (rec.parentId === null ? 4 : stringBound(rec.parentId)) +
    stringBound(rec.kind) +
    stringBound(rec.name) +
    numberBound(rec.startedAt) +
    (rec.endedAt === null ? 4 : numberBound(rec.endedAt)) +
    (rec.durationMs === null ? 4 : numberBound(rec.durationMs)) +
    stringBound(rec.status) +
    jsonBound(rec.attributes);
  const r = rec as unknown as Record<string, unknown>;
  for (const key of OPTIONAL_KEYS) {
    const v = r[key];
    if (v !== undefined) n += key.length + 4 + jsonBound(v);
  }
  return n;
}
