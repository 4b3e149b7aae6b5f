/**
 * Tail sampling, decided when a trace ends: every error and timeout is kept, every trace slower than a threshold is
 * kept, `forceKeep()` keeps, and the rest (successes) are kept at a rate decided from the trace id alone, so every
 * process that sees the same trace id makes the same decision.
 */
import { assertKnownKeys, assertNumber } from '../common/options.js';
import type { KeepReason, TraceStatus } from './model.js';

/** Share of successful traces kept. */
export const DEFAULT_SAMPLE_RATE = 0.1;
/** Successful traces at least this slow are kept whatever the rate. */
export const DEFAULT_SLOW_THRESHOLD_MS = 10_000;

/** Options of {@link createSampler}. */
export interface SamplerOptions {
  /** Share of successful traces kept, 0..1. Default {@link DEFAULT_SAMPLE_RATE} (0.1). */
  sampleRate?: number;
  /** Traces lasting at least this many ms are kept. Default {@link DEFAULT_SLOW_THRESHOLD_MS}; Infinity disables. */
  slowThresholdMs?: number;
}

/** What the sampler sees of a finished trace. */
export interface SamplingInput {
  traceId: string;
  status: TraceStatus;
  durationMs: number;
  forced: boolean;
}

/** Decides whether a finished trace is kept: a {@link KeepReason}, or null to drop it. */
export interface TailSampler {
  readonly sampleRate: number;
  readonly slowThresholdMs: number;
  decide(input: SamplingInput): KeepReason | null;
}

const TWO_POW_52 = 2 ** 52;

/**
 * Maps a trace id to a number in [0, 1) from its last 13 hex digits (52 bits, the random part of a W3C id). The
 * same id always gives the same number, in every process. Non-hex ids are hashed (FNV-1a) instead.
 */
export function traceIdRatio(traceId: string): number {
  const tail = traceId.slice(-13);
  const n = Number.parseInt(tail, 16);
  if (tail.length === 13 && /^[0-9a-f]+$/i.test(tail)) return n / TWO_POW_52;
  let h = 0x811c9dc5;
  for (let i = 0; i < traceId.length; i++) {
    h ^= traceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

/**
 * Builds the tail sampler.
 * @throws InvalidOptionsError for unknown keys, a `sampleRate` outside 0..1, or a negative `slowThresholdMs`.
 */
export function createSampler(options: SamplerOptions = {}, where = 'sampler'): TailSampler {
  assertKnownKeys(where, options, ['sampleRate', 'slowThresholdMs']);
  const sampleRate =
    options.sampleRate === undefined ? DEFAULT_SAMPLE_RATE : assertNumber(where, 'sampleRate', options.sampleRate, { min: 0, max: 1 });
  const slowThresholdMs =
    options.slowThresholdMs === undefined
      ? DEFAULT_SLOW_THRESHOLD_MS
      : assertNumber(where, 'slowThresholdMs', options.slowThresholdMs, { min: 0, allowInfinity: true });
  return {
    sampleRate,
    slowThresholdMs,
    decide({ traceId, status, durationMs, forced }) {
      if (status === 'error') return 'error';
      if (status === 'timeout') return 'timeout';
      if (forced) return 'forced';
      if (durationMs >= slowThresholdMs) return 'slow';
      if (sampleRate >= 1) return 'rate';
      if (sampleRate > 0 && traceIdRatio(traceId) < sampleRate) return 'rate';
      return null;
    },
  };
}
