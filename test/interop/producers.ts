/**
 * Real OTLP producers for the interop tests: the Vercel AI SDK (both telemetry integrations) running a multi-step
 * tool-calling `generateText` against a scripted model, and the official `openai` SDK pointed at our OpenAI emulator,
 * instrumented by OpenInference or by OpenLLMetry. Each run: user `u-7`, tool `lookup` succeeds, tool `explode` fails.
 */
import { SpanStatusCode, context, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import { generateText, stepCountIs, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import type OpenAIClass from 'openai';

export const USER = 'u-7';
export const SESSION = 'sess-42';
export const LOOKUP_OUTPUT = 'Paris has 2.1M people';
export const EXPLODE_ERROR = 'tool exploded on purpose';

const usage = (input: number, output: number, cacheRead?: number) => ({
  inputTokens: { total: input, noCache: input - (cacheRead ?? 0), cacheRead, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A scripted model: step 1 calls both tools, step 2 answers. */
function scriptedModel(): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    provider: 'scripted',
    modelId: 'scripted-model-1',
    doGenerate: [
      {
        content: [
          { type: 'tool-call', toolCallId: 'call-1', toolName: 'lookup', input: JSON.stringify({ city: 'Paris' }) },
          { type: 'tool-call', toolCallId: 'call-2', toolName: 'explode', input: JSON.stringify({ why: 'test' }) },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(100, 20, 40),
        warnings: [],
      },
      {
        content: [{ type: 'text', text: 'Paris is big.' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: usage(150, 5),
        warnings: [],
      },
    ],
  });
}

/** A scripted long run: `steps` model calls asking for `lookup`, then one answering. */
function longModel(steps: number): MockLanguageModelV4 {
  const calling = Array.from({ length: steps }, (_, i) => ({
    content: [{ type: 'tool-call' as const, toolCallId: `call-${i}`, toolName: 'lookup', input: JSON.stringify({ city: `Paris-${i}` }) }],
    finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
    usage: usage(100 + i, 10),
    warnings: [],
  }));
  const answer = { content: [{ type: 'text' as const, text: 'Done.' }], finishReason: { unified: 'stop' as const, raw: 'stop' }, usage: usage(999, 2), warnings: [] };
  return new MockLanguageModelV4({ provider: 'scripted', modelId: 'scripted-model-1', doGenerate: [...calling, answer] });
}

/**
 * A long agent run with the AI SDK's OpenTelemetry integration: `steps` tool-calling steps, then an answer. `afterTool`
 * runs inside each tool call (after its work), e.g. to export what has ended so far, as a long run's batches would.
 */
export async function runLongAiSdk(tracer: Tracer, steps: number, afterTool: (step: number) => Promise<void>): Promise<string> {
  let step = 0;
  const result = await generateText({
    model: longModel(steps),
    prompt: 'Look up every city.',
    stopWhen: stepCountIs(steps + 1),
    tools: {
      lookup: tool({
        description: 'Look a city up',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          await afterTool(step++);
          return `${city}: ${LOOKUP_OUTPUT}`;
        },
      }),
    },
    runtimeContext: { userId: USER, sessionId: SESSION },
    telemetry: {
      functionId: 'long-agent',
      integrations: [
        new OpenTelemetry({
          tracer,
          agentSpanName: 'functionId',
          enrichSpan: ({ spanType }) => (spanType === 'operation' ? { 'user.id': USER, 'gen_ai.conversation.id': SESSION } : undefined),
        }),
      ],
    },
  });
  return result.text;
}

/** Runs a two-step tool-calling `generateText` with the AI SDK's OpenTelemetry (or legacy) integration. */
export async function runAiSdk(tracer: Tracer, integration: 'otel' | 'legacy'): Promise<string> {
  // The OTel integration adds the caller's own attributes through `enrichSpan`; the legacy one records runtime context.
  const telemetry =
    integration === 'otel'
      ? new OpenTelemetry({
          tracer,
          agentSpanName: 'functionId',
          enrichSpan: ({ spanType }) => (spanType === 'operation' ? { 'user.id': USER, 'gen_ai.conversation.id': SESSION } : undefined),
        })
      : new LegacyOpenTelemetry({ tracer });
  const result = await generateText({
    model: scriptedModel(),
    prompt: 'How big is Paris?',
    stopWhen: stepCountIs(3),
    tools: {
      lookup: tool({
        description: 'Look a city up',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => (city === 'Paris' ? LOOKUP_OUTPUT : 'unknown'),
      }),
      explode: tool({
        description: 'Always fails',
        inputSchema: z.object({ why: z.string() }),
        execute: async ({ why }): Promise<string> => {
          throw new Error(`${EXPLODE_ERROR}`, { cause: why });
        },
      }),
    },
    runtimeContext: { userId: USER, sessionId: SESSION },
    telemetry: {
      functionId: 'city-agent',
      includeRuntimeContext: { userId: true, sessionId: true },
      integrations: [telemetry],
    },
  });
  return result.text;
}

interface OpenAIModule {
  default: typeof OpenAIClass;
}

/**
 * Runs a small agent loop with the official `openai` SDK: the model (emulator) asks for both tools, we run them under
 * spans written to the given convention, then the model answers. The SDK's own spans come from the instrumentation.
 */
export async function runOpenAIAgent(
  openai: OpenAIModule,
  baseURL: string,
  provider: TracerProvider,
  convention: 'openinference' | 'openllmetry',
): Promise<string> {
  const client = new openai.default({ apiKey: 'test-openai-key', baseURL: `${baseURL}/v1` });
  const tracer = provider.getTracer('city-agent');
  const rootAttrs =
    convention === 'openinference'
      ? { 'openinference.span.kind': 'AGENT', 'user.id': USER, 'session.id': SESSION, 'agent.name': 'city-agent', 'input.value': 'How big is Paris?' }
      : {
          'traceloop.span.kind': 'agent',
          'traceloop.entity.name': 'city-agent',
          'traceloop.workflow.name': 'city-agent',
          'traceloop.association.properties.user_id': USER,
          'traceloop.association.properties.session_id': SESSION,
          'traceloop.entity.input': JSON.stringify({ args: ['How big is Paris?'] }),
        };
  return tracer.startActiveSpan('city-agent', { attributes: rootAttrs }, async (root) => {
    const tools = [
      { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
      { type: 'function' as const, function: { name: 'explode', parameters: { type: 'object', properties: { why: { type: 'string' } } } } },
    ];
    const messages: OpenAIClass.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'How big is Paris?' }];
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, user: USER });
    const calls = first.choices[0]!.message.tool_calls ?? [];
    messages.push(first.choices[0]!.message);
    for (const call of calls) {
      if (call.type !== 'function') continue;
      const args = call.function.arguments;
      const attrs =
        convention === 'openinference'
          ? { 'openinference.span.kind': 'TOOL', 'tool.name': call.function.name, 'input.value': args, 'input.mime_type': 'application/json' }
          : { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': call.function.name, 'traceloop.entity.input': args };
      const content = await tracer.startActiveSpan(`${call.function.name}.tool`, { attributes: attrs }, async (span) => {
        try {
          if (call.function.name === 'explode') throw new Error(EXPLODE_ERROR);
          const out = LOOKUP_OUTPUT;
          span.setAttribute(convention === 'openinference' ? 'output.value' : 'traceloop.entity.output', out);
          return out;
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          return `error: ${(err as Error).message}`;
        } finally {
          span.end();
        }
      });
      messages.push({ role: 'tool', tool_call_id: call.id, content });
    }
    const second = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, user: USER });
    const text = second.choices[0]!.message.content ?? '';
    root.setAttribute(convention === 'openinference' ? 'output.value' : 'traceloop.entity.output', text);
    root.end();
    return text;
  });
}

/** Makes `context.with` work for the active spans above (no global registration of a provider needed). */
export { context, trace };
