/**
 * Tracing core vs the OpenTelemetry JS SDK, same process run, through the API each side's users call (see
 * `traceCases.ts`): `await withSpan(kind, name, async (s) => { 5 attributes })` inside `withTrace` with the default
 * tracer, against `await tracer.startActiveSpan(name, async (span) => { 5 attributes; span.end() })` with
 * sdk-trace-node's context manager and a BatchSpanProcessor with its default options. Traces of 50, 500 and 1,000
 * spans; per-span cost = time per trace / (spans + 1), the trace's own root span counted on both sides.
 *
 * Fairness: rounds of the sides are interleaved (a noisy neighbour hits both alike), each timed round ends with its
 * side's forceFlush (export work counted in its own round), ratios are medians of per-round ratios of wall time and of
 * process CPU time. Each side uses its defaults: ours exports every 128 traces, OpenTelemetry every 512 spans.
 */
import { createTracer, startSpan, createRedactor, setDefaultTracer, type Tracer } from '../src/trace/index.js';
import { formatBytes, formatNs, heapAfterGc, measureAsync, median, table, type BenchSuite } from './lib.js';
import {
  AlwaysOnSampler,
  TraceIdRatioBasedSampler,
  installDefaultTracer,
  noopExporter,
  otelSide,
  otelTrace,
  oursTrace,
  type OtelSide,
} from './traceCases.js';

const SIZES = [50, 500, 1000] as const;

interface Side {
  name: string;
  /** Makes this side's tracer the default one (ours); called before its warmup and each of its rounds. */
  enter?: () => void;
  /** One trace. */
  op: () => Promise<void>;
  /** Exports everything pending; timed as part of the round. */
  flush: () => Promise<void>;
}

/** Interleaved rounds (see the header); yields every side's median ns per span and per-round ratio medians. */
async function interleaved(sides: readonly Side[], spansPerTrace: number, traces: number, rounds: number, warmup: number) {
  const perSpan = (ns: number) => ns / traces / (spansPerTrace + 1);
  const wall = sides.map(() => [] as number[]);
  const cpu = sides.map(() => [] as number[]);
  for (const side of sides) {
    side.enter?.();
    for (let i = 0; i < warmup; i++) await side.op();
    await side.flush();
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sides.length; k++) {
      const { enter, op, flush } = sides[k]!;
      enter?.();
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      for (let i = 0; i < traces; i++) await op();
      await flush();
      wall[k]!.push(perSpan(Number(process.hrtime.bigint() - start)));
      const used = process.cpuUsage(cpuStart);
      cpu[k]!.push(perSpan((used.user + used.system) * 1000));
    }
  }
  const ratio = (of: readonly number[][], a: number, b: number) => median(of[a]!.map((v, i) => v / of[b]![i]!));
  return {
    ns: wall.map(median),
    cpuNs: cpu.map(median),
    ratio: (a: number, b: number) => ratio(wall, a, b),
    cpuRatio: (a: number, b: number) => ratio(cpu, a, b),
  };
}

const ratioCell = (r: { ratio: (a: number, b: number) => number; cpuRatio: (a: number, b: number) => number }, a: number, b: number) =>
  `${r.ratio(a, b).toFixed(2)}× (CPU ${r.cpuRatio(a, b).toFixed(2)}×)`;

/** Wall time per span, and process CPU time per span in brackets. */
const cell = (r: { ns: number[]; cpuNs: number[] }, k: number) => `${formatNs(r.ns[k]!)} (CPU ${formatNs(r.cpuNs[k]!)})`;

/** A synchronous trace of `spans` single spans, for the burst accounting cases. */
function syncTrace(tracer: Tracer, spans: number): void {
  tracer.withTrace('bench', () => {
    for (let i = 0; i < spans; i++) startSpan('custom', 'op').setAttribute('a', 1).end();
  });
}

const suite: BenchSuite = {
  name: 'trace',
  title: 'Tracing core vs OpenTelemetry JS SDK',
  async run({ smoke }) {
    /** Spans per timed round, whatever the trace size. */
    const spansPerRound = smoke ? 2000 : 60_000;
    const rounds = smoke ? 1 : 7;
    const rows: string[][] = [];
    const flatRows: string[][] = [];
    const notes: string[] = [];
    const perSize = new Map<number, { kept: number; keptCpu: number; out: number; outCpu: number }>();

    for (const n of SIZES) {
      const traces = Math.max(1, Math.round(spansPerRound / n));
      const warmup = Math.max(2, Math.round(traces / 2));

      // Kept: every trace kept, redacted, bounded and exported (ours); AlwaysOn (OpenTelemetry).
      const kept = installDefaultTracer({ sampleRate: 1 });
      const otelOn = otelSide(new AlwaysOnSampler());
      const k = await interleaved(
        [
          { name: 'ours', enter: () => setDefaultTracer(kept.tracer), op: () => oursTrace(n), flush: () => kept.tracer.forceFlush() },
          { name: 'otel', op: () => otelTrace(otelOn.tracer, n), flush: otelOn.flush },
        ],
        n,
        traces,
        rounds,
        warmup,
      );
      rows.push([`kept span, ${n} spans per trace`, cell(k, 0), `${cell(k, 1)} (AlwaysOn)`, ratioCell(k, 0, 1), n === 500 ? '≤ 1.0×' : '']);
      const ks = kept.tracer.stats().processor;
      notes.push(`${n} spans/trace, kept: ${ks.exported} traces (${kept.exporter.spans} spans) exported, ${ks.dropped} dropped, ${ks.lost} lost; OpenTelemetry exported ${otelOn.exported()} spans.`);
      await kept.tracer.shutdown();
      await otelOn.shutdown();
      await heapAfterGc();

      // Sampled out: ours records every span and drops the trace at its end (tail sampling); OpenTelemetry records
      // every span (AlwaysOn: a tail sampler downstream would decide) and, head-sampled at 0.1, records 1 trace in 10.
      const out = installDefaultTracer({ sampleRate: 0 });
      const otelOn2 = otelSide(new AlwaysOnSampler());
      const otelRatio = otelSide(new TraceIdRatioBasedSampler(0.1));
      const o = await interleaved(
        [
          { name: 'ours', enter: () => setDefaultTracer(out.tracer), op: () => oursTrace(n), flush: () => out.tracer.forceFlush() },
          { name: 'otel', op: () => otelTrace(otelOn2.tracer, n), flush: otelOn2.flush },
          { name: 'otel-ratio', op: () => otelTrace(otelRatio.tracer, n), flush: otelRatio.flush },
        ],
        n,
        traces,
        rounds,
        warmup,
      );
      rows.push([`sampled-out span, ${n} spans per trace`, cell(o, 0), `${cell(o, 1)} (AlwaysOn)`, ratioCell(o, 0, 1), n === 500 ? '≤ 0.5×' : '']);
      rows.push([`  the same vs head sampling`, '', `${cell(o, 2)} (TraceIdRatioBased 0.1)`, ratioCell(o, 0, 2), '']);
      notes.push(`${n} spans/trace, sampled out: ${out.tracer.stats().sampledOut} traces sampled out (counted), ${out.exporter.traces} exported.`);
      perSize.set(n, { kept: k.ns[0]!, keptCpu: k.cpuNs[0]!, out: o.ns[0]!, outCpu: o.cpuNs[0]! });
      await out.tracer.shutdown();
      for (const s of [otelOn2, otelRatio] as OtelSide[]) await s.shutdown();
      await heapAfterGc();
    }

    const base = perSize.get(SIZES[0])!;
    for (const n of SIZES.slice(1)) {
      const s = perSize.get(n)!;
      flatRows.push([
        `${n} vs ${SIZES[0]} spans per trace`,
        `${(s.kept / base.kept).toFixed(2)}× (CPU ${(s.keptCpu / base.keptCpu).toFixed(2)}×)`,
        `${(s.out / base.out).toFixed(2)}× (CPU ${(s.outCpu / base.outCpu).toFixed(2)}×)`,
        n === 1000 ? '≤ 1.5×' : '',
      ]);
    }

    // Redaction of a 2 KB tool input with no secrets.
    const redactor = createRedactor();
    const input = 'The agent searched the web for recent results about climate policy in the EU, compared three sources, and summarised the differences for the user. '.repeat(14).slice(0, 2048);
    const redactNs = await measureAsync(async () => redactor.redactString(input), { iterations: smoke ? 50 : 50_000, rounds, warmup: smoke ? 5 : 5000 });
    const objInput = { query: input.slice(0, 512), filters: { site: 'europa.eu', lang: 'en' }, context: [input.slice(512, 1024), input.slice(1024, 2048)] };
    const redactObjNs = await measureAsync(async () => redactor.redact(objInput), { iterations: smoke ? 50 : 50_000, rounds, warmup: smoke ? 5 : 5000 });
    const other: string[][] = [
      ['redaction of a 2 KB tool input string, no secrets', formatNs(redactNs), 'n/a (no redaction)', 'report'],
      ['redaction of a 2 KB tool input object, no secrets', formatNs(redactObjNs), 'n/a (no redaction)', 'report'],
    ];

    // 10,000 spans in a synchronous burst: every drop counted.
    const burst = smoke ? 1000 : 10_000;
    const burstEx = noopExporter();
    const burstTracer = createTracer({ sampleRate: 1, exporters: [burstEx] });
    for (let i = 0; i < burst; i++) syncTrace(burstTracer, 1);
    await burstTracer.forceFlush();
    const bs = burstTracer.stats().processor;
    const oneTraceEx = noopExporter();
    const oneTrace = createTracer({ sampleRate: 1, exporters: [oneTraceEx] });
    syncTrace(oneTrace, burst);
    await oneTrace.forceFlush();
    const otelBurst = otelSide(new AlwaysOnSampler());
    for (let i = 0; i < burst; i++) otelBurst.tracer.startSpan('bench').end();
    await otelBurst.flush();
    other.push([
      `${burst.toLocaleString('en')} single-span traces in a synchronous burst`,
      `${bs.exported} exported + ${bs.dropped} dropped, all counted (stats().processor.dropped); 0 silent`,
      `${otelBurst.exported()} exported, ${burst - otelBurst.exported()} lost silently (default queue 2,048; only a diag warning)`,
      '0 lost silently',
    ]);
    other.push([
      `${burst.toLocaleString('en')} spans in one trace`,
      `${oneTraceEx.spans} recorded + ${oneTrace.stats().droppedSpans} counted in droppedSpans (maxSpans 1,000), trace flagged truncated`,
      '',
      '0 lost silently',
    ]);
    for (const t of [burstTracer, oneTrace]) await t.shutdown();
    await otelBurst.shutdown();

    // Heap retained after 1e6 spans (natural API, 500 spans per trace) and a flush.
    const totalSpans = smoke ? 10_000 : 1_000_000;
    for (const [label, sampleRate] of [['default sampling (0.1)', undefined], ['every trace kept', 1]] as const) {
      const before = await heapAfterGc();
      const t = installDefaultTracer(sampleRate === undefined ? {} : { sampleRate });
      for (let i = 0; i < totalSpans / 500; i++) await oursTrace(499);
      await t.tracer.forceFlush();
      const grown = (await heapAfterGc()) - before;
      const otel = otelSide(sampleRate === undefined ? new TraceIdRatioBasedSampler(0.1) : new AlwaysOnSampler());
      const before2 = await heapAfterGc();
      for (let i = 0; i < totalSpans / 500; i++) await otelTrace(otel.tracer, 499);
      await otel.flush();
      const otelGrown = (await heapAfterGc()) - before2;
      other.push([`heap growth after ${totalSpans.toLocaleString('en')} spans and a flush (after GC), ${label}`, formatBytes(Math.max(0, grown)), formatBytes(Math.max(0, otelGrown)), '< 1 MB']);
      notes.push(`heap run, ${label}: ${t.tracer.stats().kept} of ${t.tracer.stats().ended} traces kept, ${t.tracer.stats().processor.exported} exported, ${t.tracer.stats().processor.dropped} dropped (counted).`);
      await t.tracer.shutdown();
      await otel.shutdown();
    }

    return {
      markdown: [
        table(['case (natural async API, 5 attributes per span)', 'AgentEx', '@opentelemetry/sdk-trace-base 2.12', 'ratio', 'goal'], rows),
        '',
        table(['per-span cost, bigger vs smaller trace', 'kept', 'sampled out', 'goal'], flatRows),
        '',
        table(['case', 'AgentEx', 'OpenTelemetry', 'goal'], other),
        '',
        `Per-span numbers: ${spansPerRound.toLocaleString('en')} spans per timed round (traces of N child spans, divided by N + 1), ${rounds} rounds, sides interleaved, each round ending with its side's forceFlush; ratios are medians of per-round ratios of wall time and, in brackets, of process CPU time (all threads, GC helpers included), which a busy shared machine distorts less. Ours: \`withTrace\`/\`withSpan\` of the default tracer (\`setDefaultTracer(createTracer({ sampleRate, exporters: [discarding] }))\`, default bounds and batches), which also redacts, bounds and tail-samples. OpenTelemetry: \`startActiveSpan\` with sdk-trace-node's AsyncLocalStorage context manager, BatchSpanProcessor with its defaults, discarding exporter.`,
        ...notes.map((n) => `- ${n}`),
      ].join('\n'),
    };
  },
};

export default suite;
