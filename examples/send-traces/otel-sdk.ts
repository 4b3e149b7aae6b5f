// examples/send-traces/otel-sdk.ts — any code, plain OpenTelemetry SDK with GenAI semantic conventions (npm i openai
// @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-http @opentelemetry/resources). Endpoint and token
// come from the standard variables, as in any OpenTelemetry SDK:
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:8787/v1/traces
//   OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer $AGENTEX_TOKEN"
import { SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import OpenAI from 'openai';

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'weather-app' }),
  // One request per ended span: fine for short scripts; prefer BatchSpanProcessor for services.
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter())],
});
provider.register();
const tracer = provider.getTracer('weather-agent');
const client = new OpenAI(); // OPENAI_API_KEY, OPENAI_BASE_URL

export async function askWeatherAgent(question: string, userId: string, sessionId: string): Promise<string> {
  const attributes = { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather-agent', 'user.id': userId, 'gen_ai.conversation.id': sessionId };
  return tracer.startActiveSpan('invoke_agent weather-agent', { attributes }, async (agent) => {
    try {
      const weather = tracer.startActiveSpan('execute_tool weather', (span) => {
        const result = 'Sunny, 21°C in Paris';
        span.setAttributes({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'weather', 'gen_ai.tool.call.arguments': '{"city":"Paris"}', 'gen_ai.tool.call.result': result });
        span.end();
        return result;
      });
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'system', content: `Weather: ${weather}` }, { role: 'user', content: question }];
      return await tracer.startActiveSpan('chat gpt-4o-mini', async (span) => {
        const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
        const text = res.choices[0]!.message.content ?? '';
        span.setAttributes({
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': res.model,
          'gen_ai.usage.input_tokens': res.usage?.prompt_tokens ?? 0,
          'gen_ai.usage.output_tokens': res.usage?.completion_tokens ?? 0,
          'gen_ai.input.messages': JSON.stringify(messages),
          'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: text }]),
        });
        span.end();
        return text;
      });
    } catch (err) {
      agent.recordException(err as Error);
      agent.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      agent.end();
    }
  });
}

/** Call before the process exits (with SimpleSpanProcessor it waits for requests still under way). */
export const flushTraces = (): Promise<void> => provider.shutdown();
