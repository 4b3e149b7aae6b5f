import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '../trace/model.js';
import { MAX_INDEXED_MESSAGES, mapSpan, type ConventionEvent, type MappedSpan } from './otlpConventions.js';

interface Case {
  what: string;
  name: string;
  attrs: Record<string, AttributeValue>;
  events?: ConventionEvent[];
  resource?: Record<string, AttributeValue>;
  expected: Partial<MappedSpan>;
  /** Keys that must have been consumed (moved into fields). */
  consumed?: string[];
}

function check(c: Case): void {
  const mapped = mapSpan(c.name, { ...c.attrs }, c.events ?? [], c.resource ?? {});
  expect(mapped).toMatchObject(c.expected);
  for (const key of c.consumed ?? []) expect(mapped.consumed).toContain(key);
}

describe('OpenTelemetry GenAI semantic conventions', () => {
  const cases: Case[] = [
    {
      what: 'a chat span with current names, cache tokens and the conversation',
      name: 'chat gpt-4o',
      attrs: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 120,
        'gen_ai.usage.output_tokens': 30,
        'gen_ai.usage.cache_read.input_tokens': 100,
        'gen_ai.usage.cache_creation.input_tokens': 20,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        'gen_ai.output.messages': '[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]',
        'gen_ai.conversation.id': 'conv-1',
      },
      expected: {
        convention: 'genai',
        kind: 'llm',
        model: 'gpt-4o-2024-08-06',
        usage: { input: 120, output: 30, cacheRead: 100, cacheWrite: 20 },
        stopReason: 'stop',
        input: '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        output: '[{"role":"assistant","parts":[{"type":"text","content":"hello"}]}]',
        sessionId: 'conv-1',
      },
      consumed: ['gen_ai.input.messages', 'gen_ai.output.messages'],
    },
    {
      what: 'older names: gen_ai.system, prompt/completion tokens, no operation name, content in span events',
      name: 'openai.chat',
      attrs: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-3.5-turbo', 'gen_ai.usage.prompt_tokens': 11, 'gen_ai.usage.completion_tokens': 7 },
      events: [
        { name: 'gen_ai.system.message', attributes: { 'gen_ai.system': 'openai', content: 'be brief' } },
        { name: 'gen_ai.user.message', attributes: { 'gen_ai.event.content': 'hi' } },
        { name: 'gen_ai.choice', attributes: { index: 0, finish_reason: 'stop', message: '{"content":"hello"}' } },
      ],
      expected: {
        convention: 'genai',
        kind: 'llm',
        model: 'gpt-3.5-turbo',
        usage: { input: 11, output: 7 },
        input: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hi' },
        ],
        output: [{ index: 0, finish_reason: 'stop', message: '{"content":"hello"}' }],
      },
    },
    {
      what: 'prompt and completion content events of the first GenAI conventions',
      name: 'chat',
      attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' },
      events: [
        { name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': '[{"role":"user","content":"q"}]' } },
        { name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': '[{"role":"assistant","content":"a"}]' } },
      ],
      expected: { kind: 'llm', input: ['[{"role":"user","content":"q"}]'], output: ['[{"role":"assistant","content":"a"}]'] },
    },
    {
      what: 'the inference details event of the newest conventions',
      name: 'chat',
      attrs: { 'gen_ai.operation.name': 'chat' },
      events: [{ name: 'gen_ai.client.inference.operation.details', attributes: { 'gen_ai.input.messages': 'in', 'gen_ai.output.messages': 'out' } }],
      expected: { kind: 'llm', input: ['in'], output: ['out'] },
    },
    {
      what: 'a failing tool call',
      name: 'execute_tool web_search',
      attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search', 'gen_ai.tool.call.arguments': '{"q":"x"}', 'error.type': 'TimeoutError' },
      events: [{ name: 'exception', attributes: { 'exception.type': 'TimeoutError', 'exception.message': 'took too long' } }],
      expected: { kind: 'tool', toolName: 'web_search', input: '{"q":"x"}', error: { type: 'TimeoutError', message: 'took too long' } },
    },
    {
      what: 'a tool call with its result',
      name: 'execute_tool lookup',
      attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.call.result': '"ok"' },
      expected: { kind: 'tool', toolName: 'lookup', output: '"ok"' },
    },
    {
      what: 'an agent with its name and user (span) or user (resource)',
      name: 'invoke_agent planner',
      attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
      resource: { 'user.id': 'u-1' },
      expected: { kind: 'agent', agent: 'planner', userId: 'u-1' },
    },
    { what: 'the AI SDK step span', name: 'step 1', attrs: { 'gen_ai.operation.name': 'agent_step' }, expected: { kind: 'iteration' } },
    { what: 'embeddings', name: 'embeddings m', attrs: { 'gen_ai.operation.name': 'embeddings' }, expected: { kind: 'retrieval' } },
    { what: 'an unknown operation', name: 'x', attrs: { 'gen_ai.operation.name': 'dance' }, expected: { convention: 'genai', kind: 'custom' } },
  ];
  it.each(cases)('$what', check);
});

describe('Vercel AI SDK legacy spans', () => {
  const cases: Case[] = [
    {
      what: 'ai.generateText: the run, with function id, runtime context and final text',
      name: 'ai.generateText',
      attrs: {
        'operation.name': 'ai.generateText city-agent',
        'ai.operationId': 'ai.generateText',
        'ai.telemetry.functionId': 'city-agent',
        'ai.settings.context.userId': 'u-7',
        'ai.telemetry.metadata.sessionId': 's-1',
        'ai.model.id': 'gpt-4o',
        'ai.prompt': '{"prompt":"hi"}',
        'ai.response.text': 'hello',
        'ai.usage.inputTokens': 250,
        'ai.usage.outputTokens': 25,
      },
      expected: { convention: 'ai-sdk', kind: 'agent', agent: 'city-agent', userId: 'u-7', sessionId: 's-1', input: '{"prompt":"hi"}', output: 'hello' },
      consumed: ['ai.prompt', 'ai.response.text'],
    },
    {
      what: 'ai.generateText.doGenerate: a model call (v5+ usage names, cache read)',
      name: 'ai.generateText.doGenerate',
      attrs: {
        'ai.operationId': 'ai.generateText.doGenerate',
        'ai.model.id': 'claude-x',
        'ai.response.model': 'claude-x-2025',
        'gen_ai.system': 'anthropic',
        'ai.prompt.messages': '[{"role":"user"}]',
        'ai.response.text': '',
        'ai.response.toolCalls': '[{"toolName":"lookup"}]',
        'ai.response.finishReason': 'tool-calls',
        'ai.usage.inputTokens': 100,
        'ai.usage.outputTokens': 20,
        'ai.usage.cachedInputTokens': 40,
        'ai.usage.inputTokenDetails.cacheWriteTokens': 8,
      },
      expected: {
        convention: 'ai-sdk',
        kind: 'llm',
        model: 'claude-x-2025',
        usage: { input: 100, output: 20, cacheRead: 40, cacheWrite: 8 },
        stopReason: 'tool-calls',
        input: '[{"role":"user"}]',
        output: '[{"toolName":"lookup"}]',
      },
    },
    {
      what: 'ai.streamText.doStream with v4 usage names (promptTokens/completionTokens), span name only',
      name: 'ai.streamText.doStream',
      attrs: { 'ai.model.id': 'gpt-4o-mini', 'ai.usage.promptTokens': 9, 'ai.usage.completionTokens': 3, 'ai.response.text': 'hey' },
      expected: { convention: 'ai-sdk', kind: 'llm', model: 'gpt-4o-mini', usage: { input: 9, output: 3 }, output: 'hey' },
    },
    {
      what: 'ai.toolCall with args and result',
      name: 'ai.toolCall',
      attrs: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'lookup', 'ai.toolCall.id': 'c1', 'ai.toolCall.args': '{"city":"Paris"}', 'ai.toolCall.result': '"big"' },
      expected: { convention: 'ai-sdk', kind: 'tool', toolName: 'lookup', input: '{"city":"Paris"}', output: '"big"' },
      consumed: ['ai.toolCall.args', 'ai.toolCall.result'],
    },
    {
      what: 'text and tool calls together',
      name: 'ai.generateText.doGenerate',
      attrs: { 'ai.response.text': 'thinking', 'ai.response.toolCalls': '[]' },
      expected: { kind: 'llm', output: { text: 'thinking', toolCalls: '[]' } },
    },
    { what: 'ai.embed', name: 'ai.embed', attrs: { 'ai.operationId': 'ai.embed' }, expected: { kind: 'retrieval' } },
    { what: 'ai.generateObject', name: 'ai.generateObject', attrs: { 'ai.response.object': '{"a":1}' }, expected: { kind: 'agent', output: '{"a":1}' } },
    { what: 'another ai.* span', name: 'ai.somethingNew', attrs: {}, expected: { convention: 'ai-sdk', kind: 'custom' } },
  ];
  it.each(cases)('$what', check);
});

describe('OpenInference', () => {
  const cases: Case[] = [
    {
      what: 'an LLM span with token counts, cache details and indexed messages',
      name: 'OpenAI Chat Completions',
      attrs: {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o-mini',
        'llm.token_count.prompt': 50,
        'llm.token_count.completion': 9,
        'llm.token_count.total': 59,
        'llm.token_count.prompt_details.cache_read': 32,
        'llm.token_count.prompt_details.cache_write': 4,
        'llm.input_messages.0.message.role': 'user',
        'llm.input_messages.0.message.content': 'hi',
        'llm.input_messages.1.message.role': 'assistant',
        'llm.output_messages.0.message.role': 'assistant',
        'llm.output_messages.0.message.content': 'hello',
        'llm.finish_reason': 'stop',
        'user.id': 'u-3',
        'session.id': 's-3',
      },
      expected: {
        convention: 'openinference',
        kind: 'llm',
        model: 'gpt-4o-mini',
        usage: { input: 50, output: 9, cacheRead: 32, cacheWrite: 4 },
        stopReason: 'stop',
        input: [{ 'message.role': 'user', 'message.content': 'hi' }, { 'message.role': 'assistant' }],
        output: [{ 'message.role': 'assistant', 'message.content': 'hello' }],
        userId: 'u-3',
        sessionId: 's-3',
      },
      consumed: ['llm.input_messages.0.message.role', 'llm.output_messages.0.message.content'],
    },
    {
      what: 'input.value / output.value win over indexed messages',
      name: 'llm',
      attrs: { 'openinference.span.kind': 'LLM', 'input.value': '{"messages":[]}', 'output.value': '{"choices":[]}' },
      expected: { kind: 'llm', input: '{"messages":[]}', output: '{"choices":[]}' },
    },
    {
      what: 'a TOOL span',
      name: 'lookup',
      attrs: { 'openinference.span.kind': 'TOOL', 'tool.name': 'lookup', 'input.value': '{"city":"Paris"}', 'output.value': 'big' },
      expected: { kind: 'tool', toolName: 'lookup', input: '{"city":"Paris"}', output: 'big' },
    },
    { what: 'an AGENT span', name: 'a', attrs: { 'openinference.span.kind': 'AGENT', 'agent.name': 'city-agent' }, expected: { kind: 'agent', agent: 'city-agent' } },
    { what: 'a CHAIN span is a step', name: 'c', attrs: { 'openinference.span.kind': 'CHAIN' }, expected: { kind: 'iteration' } },
    { what: 'a RETRIEVER span', name: 'r', attrs: { 'openinference.span.kind': 'RETRIEVER' }, expected: { kind: 'retrieval' } },
    { what: 'lower-case kinds', name: 'l', attrs: { 'openinference.span.kind': 'llm' }, expected: { kind: 'llm' } },
    { what: 'a GUARDRAIL span stays custom', name: 'g', attrs: { 'openinference.span.kind': 'GUARDRAIL' }, expected: { convention: 'openinference', kind: 'custom' } },
  ];
  it.each(cases)('$what', check);
});

describe('OpenLLMetry', () => {
  const cases: Case[] = [
    {
      what: 'a model call of older versions: llm.request.type, indexed prompt/completion, total tokens, cache names',
      name: 'openai.chat',
      attrs: {
        'llm.request.type': 'chat',
        'gen_ai.system': 'OpenAI',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024',
        'gen_ai.usage.prompt_tokens': 15,
        'gen_ai.usage.completion_tokens': 5,
        'llm.usage.total_tokens': 20,
        'gen_ai.usage.cache_read_input_tokens': 10,
        'gen_ai.usage.cache_creation_input_tokens': 3,
        'gen_ai.prompt.0.role': 'user',
        'gen_ai.prompt.0.content': 'hi',
        'gen_ai.completion.0.role': 'assistant',
        'gen_ai.completion.0.content': 'hello',
        'gen_ai.completion.0.finish_reason': 'stop',
        'gen_ai.completion.0.tool_calls.0.name': 'lookup',
      },
      expected: {
        convention: 'openllmetry',
        kind: 'llm',
        model: 'gpt-4o-2024',
        usage: { input: 15, output: 5, cacheRead: 10, cacheWrite: 3 },
        stopReason: 'stop',
        input: [{ role: 'user', content: 'hi' }],
        output: [{ role: 'assistant', content: 'hello', finish_reason: 'stop', 'tool_calls.0.name': 'lookup' }],
      },
      consumed: ['gen_ai.prompt.0.content', 'gen_ai.completion.0.tool_calls.0.name'],
    },
    {
      what: 'a tool (task decorator) with entity input/output',
      name: 'lookup.tool',
      attrs: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'lookup', 'traceloop.entity.input': '{"args":["Paris"]}', 'traceloop.entity.output': '"big"' },
      expected: { convention: 'openllmetry', kind: 'tool', toolName: 'lookup', input: '{"args":["Paris"]}', output: '"big"' },
    },
    {
      what: 'a workflow with association properties',
      name: 'city.workflow',
      attrs: {
        'traceloop.span.kind': 'workflow',
        'traceloop.workflow.name': 'city',
        'traceloop.entity.name': 'city',
        'traceloop.association.properties.user_id': 'u-9',
        'traceloop.association.properties.session_id': 's-9',
      },
      expected: { kind: 'agent', agent: 'city', userId: 'u-9', sessionId: 's-9' },
    },
    { what: 'a task is a step', name: 't', attrs: { 'traceloop.span.kind': 'task' }, expected: { kind: 'iteration' } },
    { what: 'an embedding call', name: 'e', attrs: { 'llm.request.type': 'embedding' }, expected: { kind: 'retrieval' } },
    { what: 'an unknown request type', name: 'r', attrs: { 'llm.request.type': 'rerank' }, expected: { convention: 'openllmetry', kind: 'custom' } },
    { what: 'an unknown span kind', name: 'u', attrs: { 'traceloop.span.kind': 'unknown' }, expected: { kind: 'custom' } },
  ];
  it.each(cases)('$what', check);
});

describe('mapSpan edge cases', () => {
  it('leaves spans of no known convention alone', () => {
    expect(mapSpan('GET /', { 'http.method': 'GET', 'user.id': 'u' }, [], {})).toEqual({ convention: 'none', kind: 'custom', consumed: [] });
  });

  it('ignores token counts that are not non-negative numbers, and reads numeric strings', () => {
    const m = mapSpan('chat', { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': -1, 'gen_ai.usage.output_tokens': '12' }, [], {});
    expect(m.usage).toEqual({ output: 12 });
  });

  it('folds at most MAX_INDEXED_MESSAGES indexed messages and skips keys that are not indexed', () => {
    const attrs: Record<string, AttributeValue> = { 'traceloop.span.kind': 'task', 'gen_ai.prompt.x.role': 'odd', 'gen_ai.prompt.7': 'no field' };
    for (let i = 0; i < MAX_INDEXED_MESSAGES + 10; i++) attrs[`gen_ai.prompt.${i}.content`] = `m${i}`;
    const m = mapSpan('t', attrs, [], {});
    expect((m.input as unknown[]).length).toBe(MAX_INDEXED_MESSAGES);
    expect(m.consumed).not.toContain('gen_ai.prompt.x.role');
  });

  it('takes the error from error.type alone when there is no exception event', () => {
    expect(mapSpan('execute_tool', { 'gen_ai.operation.name': 'execute_tool', 'error.type': '500' }, [], {}).error).toEqual({ type: '500', message: '500' });
  });
});
