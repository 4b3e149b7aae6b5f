/**
 * Trace and span ids from a CSPRNG, W3C-compatible: 32 / 16 lowercase hex chars, never all zeros.
 * Random bytes are drawn in blocks (one `randomFillSync` per {@link ID_POOL_BYTES}) so an id costs a table lookup
 * per byte instead of a syscall.
 */
import { randomFillSync } from 'node:crypto';

/** Size of the pre-filled random block; refilled when exhausted. */
export const ID_POOL_BYTES = 4096;

const pool = Buffer.allocUnsafe(ID_POOL_BYTES);
let offset = ID_POOL_BYTES;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: number): string {
  if (offset + bytes > ID_POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = '';
  let nonZero = 0;
  for (let i = 0; i < bytes; i++) {
    const b = pool[offset++]!;
    nonZero |= b;
    out += HEX[b]!;
  }
  // An all-zero id is invalid in W3C trace context; the odds are 2^-64 at worst, but never emit one.
  return nonZero === 0 ? hex(bytes) : out;
}

/** A new 32-char lowercase hex trace id (16 random bytes). */
export function newTraceId(): string {
  return hex(16);
}

/** A new 16-char lowercase hex span id (8 random bytes). */
export function newSpanId(): string {
  return hex(8);
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^0+$/;

/** True for a valid W3C trace id: 32 lowercase hex chars, not all zeros. */
export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value) && !ALL_ZERO.test(value);
}

/** True for a valid W3C span id: 16 lowercase hex chars, not all zeros. */
export function isSpanId(value: unknown): value is string {
  return typeof value === 'string' && SPAN_ID.test(value) && !ALL_ZERO.test(value);
}
