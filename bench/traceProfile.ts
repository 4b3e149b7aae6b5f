/**
 * One side of the tracing benchmark alone, for a CPU profile or GC trace:
 *   node --cpu-prof --import tsx bench/traceProfile.ts ours kept 1000 [totalSpans]
 * side: ours | otel; mode: kept | out; then spans per trace.
 */
import { AlwaysOnSampler, TraceIdRatioBasedSampler, installDefaultTracer, otelSide, otelTrace, oursTrace } from './traceCases.js';

const [side = 'ours', mode = 'kept', perTraceArg = '1000', totalArg = '2000000'] = process.argv.slice(2);
const perTrace = Number(perTraceArg);
const traces = Math.ceil(Number(totalArg) / perTrace);
const ours = side === 'ours' ? installDefaultTracer({ sampleRate: mode === 'kept' ? 1 : 0, ...(process.env.BATCH ? { processor: { maxBatchSize: Number(process.env.BATCH) } } : {}) }) : null;
const otel = side === 'otel' ? otelSide(mode === 'kept' ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(0.1)) : null;
const one = ours ? () => oursTrace(perTrace) : () => otelTrace(otel!.tracer, perTrace);
const flush = ours ? () => ours.tracer.forceFlush() : () => otel!.flush();

for (let i = 0; i < Math.max(1, traces / 10); i++) await one();
await flush();
const start = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
for (let i = 0; i < traces; i++) await one();
await flush();
const ns = Number(process.hrtime.bigint() - start);
const cpu = process.cpuUsage(cpu0);
console.log(`${side} ${mode} ${perTrace}/trace: ${(ns / traces / perTrace).toFixed(0)} ns/span wall, ${(((cpu.user + cpu.system) * 1000) / traces / perTrace).toFixed(0)} ns/span cpu`);
