/**
 * Agent loop benchmark: what the loop itself costs per iteration, the model excluded. The model is a scripted
 * provider that answers instantly with one tool call per iteration (then a final answer); the tool is a trivial
 * zod-validated echo. Reported for a hand-written bare loop (the floor: provider + tool, no registry, no tracing)
 * and for `runAgent` with tracing disabled, enabled but sampled out, and enabled and kept (redacted, bounded and
 * handed to a discarding exporter). `@openai/agents` is not installed (no dependency may be added), so ours is
 * reported alone.
 */
import { z } from 'zod';
import type { ChatMessage, CompletionRequest, CompletionResponse, ModelProvider } from '../src/agent/providers/types.js';
import { runAgent } from '../src/agent/runAgent.js';
import { createToolRegistry } from '../src/tools/registry.js';
import { defineTool, toolOk } from '../src/tools/types.js';
import { createTracer, type Tracer } from '../src/trace/Tracer.js';
import { timeout } from '../src/resilience/index.js';
import { formatNs, measureAsync, measureSync, median, table, type BenchSuite } from './lib.js';

const echo = defineTool({
  name: 'echo',
  description: 'Echoes its text',
  input: z.object({ text: z.string().max(100) }),
  execute: ({ text }) => toolOk({ echoed: text }),
});

/** Answers with one `echo` call per iteration until `toolIterations` tool results are in, then a final answer. */
function scriptedModel(toolIterations: number): ModelProvider {
  const usage = { inputTokens: 100, outputTokens: 10 };
  return {
    name: 'scripted',
    model: 'scripted-model',
    complete(request: CompletionRequest): Promise<CompletionResponse> {
      let results = 0;
      for (const m of request.messages) if (m.role === 'tool') results++;
      if (results < toolIterations) {
        return Promise.resolve({ content: '', toolCalls: [{ id: `call_${results}`, name: 'echo', input: { text: `step ${results}` } }], stopReason: 'tool_use', usage, model: 'scripted-model' });
      }
      return Promise.resolve({ content: 'done', toolCalls: [], stopReason: 'end_turn', usage, model: 'scripted-model' });
    },
  };
}

const NEVER_ABORTED = new AbortController().signal;

/** The floor: the same conversation driven by hand, no registry (no validation, timeout, span) and no tracing. */
async function bareLoop(provider: ModelProvider, message: string, maxIterations: number): Promise<string> {
  const messages: ChatMessage[] = [{ role: 'user', content: message }];
  for (let i = 0; i < maxIterations; i++) {
    const reply = await provider.complete({ messages });
    messages.push({ role: 'assistant', content: reply.content, toolCalls: reply.toolCalls });
    if (reply.toolCalls.length === 0) return reply.content;
    for (const call of reply.toolCalls) {
      const result = await echo.execute(call.input as { text: string }, { signal: NEVER_ABORTED });
      messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: JSON.stringify(result.ok ? result.data : result.error) });
    }
  }
  return 'timeout';
}

interface Contender {
  name: string;
  /** One run with `n` tool iterations before the answer. */
  run: (n: number) => Promise<unknown>;
}

async function interleaved(contenders: readonly Contender[], n: number, batch: number, rounds: number): Promise<Map<string, number>> {
  for (const c of contenders) for (let i = 0; i < Math.min(batch, 2_000); i++) await c.run(n);
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) await c.run(n);
      samples.get(c.name)!.push(Number(process.hrtime.bigint() - start) / batch);
    }
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

const suite: BenchSuite = {
  name: 'agent',
  title: 'Agent loop: per-iteration overhead (model excluded)',
  async run({ smoke }) {
    const batch = smoke ? 100 : 2_000;
    const rounds = smoke ? 3 : 9;
    const registry = createToolRegistry({ tools: [echo] });
    const models = new Map([0, 4].map((n) => [n, scriptedModel(n)]));
    const tracers: Tracer[] = [];
    const tracer = (options: Parameters<typeof createTracer>[0]): Tracer => {
      const t = createTracer(options);
      tracers.push(t);
      return t;
    };
    const off = tracer({ enabled: false });
    const sampledOut = tracer({ sampleRate: 0 });
    let exported = 0;
    const kept = tracer({ sampleRate: 1, exporters: [{ name: 'discard', export: async (b) => void (exported += b.length) }] });
    const loop = (t: Tracer) => (n: number) => runAgent({ message: 'benchmark', provider: models.get(n)!, tools: registry, tracer: t });
    const contenders: Contender[] = [
      { name: 'bare hand-written loop (floor)', run: (n) => bareLoop(models.get(n)!, 'benchmark', 5) },
      { name: 'runAgent, tracing disabled', run: loop(off) },
      { name: 'runAgent, traced, sampled out', run: loop(sampledOut) },
      { name: 'runAgent, traced and kept (exported)', run: loop(kept) },
    ];

    // Sanity: every contender really runs 4 tool iterations and answers.
    const check = await runAgent({ message: 'check', provider: models.get(4)!, tools: registry, tracer: off });
    if (check.status !== 'success' || check.iterations !== 5) throw new Error(`benchmark loop misbehaves: ${check.status} after ${check.iterations}`);

    const zero = await interleaved(contenders, 0, batch, rounds);
    const four = await interleaved(contenders, 4, batch, rounds);
    for (const t of tracers) await t.shutdown();
    if (exported === 0) throw new Error('the kept contender exported nothing');

    // Where a tool call's cost goes (tracing disabled, no trace current).
    const n = smoke ? 2_000 : 50_000;
    const call = { id: 'c', name: 'echo', input: { text: 'x' } };
    const perTimeout = timeout(30_000);
    const parts = [
      ['zod validation of the input', formatNs(measureSync(() => echo.input.safeParse(call.input), { iterations: n }))],
      ['`timeout(30 s)`, function ignores `ctx.signal`', formatNs(await measureAsync(() => perTimeout.execute(async () => 1, NEVER_ABORTED), { iterations: n }))],
      ['`timeout(30 s)`, function reads `ctx.signal` (every registry call does)', formatNs(await measureAsync(() => perTimeout.execute(async (c) => c.signal.aborted, NEVER_ABORTED), { iterations: n }))],
      ['`registry.execute` of `echo` (validation, timeout, no-op span, result)', formatNs(await measureAsync(() => registry.execute(call, { signal: NEVER_ABORTED }), { iterations: n }))],
    ];

    const floorPerIteration = (four.get(contenders[0]!.name)! - zero.get(contenders[0]!.name)!) / 4;
    const rows = contenders.map((c) => {
      const perIteration = (four.get(c.name)! - zero.get(c.name)!) / 4;
      return [
        c.name,
        formatNs(zero.get(c.name)!),
        formatNs(four.get(c.name)!),
        formatNs(perIteration),
        c === contenders[0] ? '—' : formatNs(perIteration - floorPerIteration),
        c === contenders[0] ? '1.0×' : `${(perIteration / floorPerIteration).toFixed(1)}×`,
      ];
    });
    const main = table(
      ['loop', 'run, answer only (1 model call)', 'run, 4 tool iterations + answer', 'per tool iteration', 'over the floor', 'ratio to floor'],
      rows,
    );
    const notes = [
      `Medians of ${rounds} interleaved rounds of ${batch} sequential runs per contender. Per tool iteration =`,
      '(run with 4 tool iterations − run with none) / 4: one model call, one tool call (schema validation, per-tool',
      'timeout, tool span) and the bookkeeping around them. The model is a scripted provider answering instantly,',
      'so these are the loop’s own costs; a real model call takes 10^8–10^10 ns.',
      '"traced and kept" includes building the redacted, bounded trace record and handing it to a discarding',
      'exporter (the SQLite write happens in the background batch processor and is not on the run’s path).',
      '`@openai/agents` is not installed and no dependency may be added, so it is not compared.',
      smoke ? '\n**Smoke run: numbers are meaningless.**' : '',
    ].join('\n');
    return { markdown: `${main}\n\n${table(['part of one tool call', 'ns/op'], parts)}\n\n${notes}` };
  },
};

export default suite;
