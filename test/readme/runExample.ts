/**
 * Runs one of the README's "Send traces from your agent" examples in a process of its own (each registers a global
 * tracer provider and patches `openai`): `runExample.ts <name> <user> <session>` asks the weather question, flushes
 * the traces and prints the answer. The AI SDK example gets a scripted model (one tool call, then an answer); the
 * others reach the OpenAI emulator through OPENAI_BASE_URL.
 */
import { MockLanguageModelV4 } from 'ai/test';

const [name, user, session] = process.argv.slice(2) as [string, string, string];
const QUESTION = 'What is the weather in Paris?';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

let answer: string;
if (name === 'ai-sdk') {
  const example = await import('../../examples/send-traces/ai-sdk.js');
  const model = new MockLanguageModelV4({
    provider: 'scripted',
    modelId: 'gpt-4o-mini',
    doGenerate: [
      {
        content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: JSON.stringify({ city: 'Paris' }) }],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(30, 7),
        warnings: [],
      },
      { content: [{ type: 'text', text: 'Sunny in Paris.' }], finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(60, 4), warnings: [] },
    ],
  });
  answer = await example.askWeatherAgent(model, QUESTION, user, session);
  await example.flushTraces();
} else if (name === 'openinference' || name === 'openllmetry' || name === 'otel-sdk') {
  const example = (await import(`../../examples/send-traces/${name}.js`)) as {
    askWeatherAgent(q: string, u: string, s: string): Promise<string>;
    flushTraces(): Promise<void>;
  };
  answer = await example.askWeatherAgent(QUESTION, user, session);
  await example.flushTraces();
} else {
  throw new Error(`unknown example ${name}`);
}
process.stdout.write(`${answer}\n`);
