// examples/send-traces/ai-sdk.ts — Vercel AI SDK 7 with its OpenTelemetry integration (npm i ai @ai-sdk/otel
// @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-proto @opentelemetry/resources zod)
import { OpenTelemetry } from '@ai-sdk/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { generateText, stepCountIs, tool, type LanguageModel } from 'ai';
import { z } from 'zod';

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'weather-app' }),
  spanProcessors: [
    new BatchSpanProcessor(
      new OTLPTraceExporter({
        url: `${process.env.AGENTEX_URL ?? 'http://127.0.0.1:8787'}/v1/traces`,
        headers: { Authorization: `Bearer ${process.env.AGENTEX_TOKEN}` },
      }),
    ),
  ],
});
provider.register();

export async function askWeatherAgent(model: LanguageModel, question: string, userId: string, sessionId: string): Promise<string> {
  const { text } = await generateText({
    model, // any AI SDK model, e.g. openai('gpt-4o-mini') from @ai-sdk/openai
    prompt: question,
    stopWhen: stepCountIs(5),
    tools: {
      weather: tool({
        description: 'Current weather in a city',
        inputSchema: z.object({ city: z.string() }),
        execute: ({ city }) => `Sunny, 21°C in ${city}`,
      }),
    },
    telemetry: {
      functionId: 'weather-agent', // becomes the trace's agent in AgentEx
      integrations: [
        new OpenTelemetry({
          tracer: provider.getTracer('ai'),
          agentSpanName: 'functionId',
          // Who and which conversation, on the run's spans.
          enrichSpan: ({ spanType }) => (spanType === 'operation' ? { 'user.id': userId, 'gen_ai.conversation.id': sessionId } : undefined),
        }),
      ],
    },
  });
  return text;
}

/** Call before the process exits: exports the spans the batch processor still holds. */
export const flushTraces = (): Promise<void> => provider.shutdown();
