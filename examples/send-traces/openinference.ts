// examples/send-traces/openinference.ts — the official openai SDK instrumented by OpenInference (npm i openai
// @arizeai/openinference-instrumentation-openai @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-proto
// @opentelemetry/resources)
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import OpenAI from 'openai';

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
// ESM: instrument the imported module (with CommonJS, registerInstrumentations() also works).
new OpenAIInstrumentation({ tracerProvider: provider }).manuallyInstrument(OpenAI);

const client = new OpenAI(); // OPENAI_API_KEY, OPENAI_BASE_URL
const tracer = provider.getTracer('weather-agent');
const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

export async function askWeatherAgent(question: string, userId: string, sessionId: string): Promise<string> {
  const attributes = { 'openinference.span.kind': 'AGENT', 'agent.name': 'weather-agent', 'user.id': userId, 'session.id': sessionId, 'input.value': question };
  return tracer.startActiveSpan('weather-agent', { attributes }, async (agent) => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: question }];
    for (;;) {
      const reply = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, user: userId })).choices[0]!.message;
      messages.push(reply);
      if (!reply.tool_calls?.length) {
        agent.setAttribute('output.value', reply.content ?? '');
        agent.end();
        return reply.content ?? '';
      }
      for (const call of reply.tool_calls) {
        if (call.type !== 'function') continue;
        const toolAttributes = { 'openinference.span.kind': 'TOOL', 'tool.name': call.function.name, 'input.value': call.function.arguments };
        const content = tracer.startActiveSpan(call.function.name, { attributes: toolAttributes }, (span) => {
          const { city } = JSON.parse(call.function.arguments) as { city: string };
          const result = `Sunny, 21°C in ${city}`;
          span.setAttribute('output.value', result);
          span.end();
          return result;
        });
        messages.push({ role: 'tool', tool_call_id: call.id, content });
      }
    }
  });
}

/** Call before the process exits: exports the spans the batch processor still holds. */
export const flushTraces = (): Promise<void> => provider.shutdown();
