/**
 * Trace and span ids from a CSPRNG, W3C-compatible: 32 / 16 lowercase hex chars, never all zeros.
 * Random bytes are drawn in blocks (one `randomFillSync` per {@link ID_POOL_BYTES}) so an id costs one hex slice of
 * the block instead of a syscall.

 */
import { randomFillSync } from 'node:crypto';

/** Size of the pre-filled random block; refilled when exhausted. */
export const ID_POOL_BYTES = 4096;

const pool = Buffer.allocUnsafe(ID_POOL_BYTES);
let offset = ID_POOL_BYTES;

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function hex(bytes: number): string {
  if (offset + bytes > ID_POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  // One native call returns a flat string: cheaper than building it byte by byte.
  const out = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  // An all-zero id is invalid in W3C trace context; the odds are 2^-64 at worst, but never emit one.
  return out === ZERO_TRACE || out === ZERO_SPAN ? hex(bytes) : out;
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
