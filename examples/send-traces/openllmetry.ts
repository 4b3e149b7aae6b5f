// examples/send-traces/openllmetry.ts — the official openai SDK instrumented by OpenLLMetry (npm i openai
// @traceloop/instrumentation-openai @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-http
// @opentelemetry/resources); this one exports OTLP/JSON
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenAIInstrumentation } from '@traceloop/instrumentation-openai';
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
const instrumentation = new OpenAIInstrumentation();
instrumentation.setTracerProvider(provider);
instrumentation.manuallyInstrument(OpenAI); // ESM: instrument the imported module

const client = new OpenAI(); // OPENAI_API_KEY, OPENAI_BASE_URL
const tracer = provider.getTracer('weather-agent');
const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

export async function askWeatherAgent(question: string, userId: string, sessionId: string): Promise<string> {
  const attributes = {
    'traceloop.span.kind': 'agent',
    'traceloop.entity.name': 'weather-agent',
    'traceloop.entity.input': question,
    'traceloop.association.properties.user_id': userId,
    'traceloop.association.properties.session_id': sessionId,
  };
  return tracer.startActiveSpan('weather-agent.agent', { attributes }, async (agent) => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: question }];
    for (;;) {
      const reply = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools })).choices[0]!.message;
      messages.push(reply);
      if (!reply.tool_calls?.length) {
        agent.setAttribute('traceloop.entity.output', reply.content ?? '');
        agent.end();
        return reply.content ?? '';
      }
      for (const call of reply.tool_calls) {
        if (call.type !== 'function') continue;
        const toolAttributes = { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': call.function.name, 'traceloop.entity.input': call.function.arguments };
        const content = tracer.startActiveSpan(`${call.function.name}.tool`, { attributes: toolAttributes }, (span) => {
          const { city } = JSON.parse(call.function.arguments) as { city: string };
          const result = `Sunny, 21°C in ${city}`;
          span.setAttribute('traceloop.entity.output', result);
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
