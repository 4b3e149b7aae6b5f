/**
 * Shared helpers for benchmarks: timing loops, heap measurement and markdown tables.
 * Benchmarks are never tests: they print numbers and ratio tables; `bench/run.ts` writes docs/benchmarks.md.
 */
import os from 'node:os';

export interface BenchOptions {
  /** Short smoke mode for CI: few iterations, numbers meaningless, only proves the benchmark runs. */
  smoke: boolean;
}

export interface SuiteResult {
  /** Markdown (tables and short notes) for docs/benchmarks.md. */
  markdown: string;
}

export interface BenchSuite {
  name: string;
  title: string;
  run(opts: BenchOptions): Promise<SuiteResult>;
}

/**
 * Measures an async operation: runs `warmup` calls, then `rounds` rounds of `iterations` sequential calls,
 * and returns the median ns per call over the rounds (the median resists a noisy neighbour).
 */
export async function measureAsync(
  fn: () => Promise<unknown>,
  { iterations, rounds = 5, warmup = Math.min(iterations, 10_000) }: { iterations: number; rounds?: number; warmup?: number },
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    perRound.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(perRound);
}

/** Same as {@link measureAsync} for a synchronous operation. */
export function measureSync(
  fn: () => unknown,
  { iterations, rounds = 5, warmup = Math.min(iterations, 10_000) }: { iterations: number; rounds?: number; warmup?: number },
): number {
  for (let i = 0; i < warmup; i++) fn();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    perRound.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(perRound);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs a full GC (needs `--expose-gc`, which `npm run bench` passes) and returns heapUsed in bytes. */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap measurements need node --expose-gc (use npm run bench)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return `${mb.toFixed(3)} MB`;
}

/** A markdown table from a header row and data rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `Node ${process.version}, ${os.cpus().length} × ${cpu}, ${os.platform()} ${os.arch()}`;
}
