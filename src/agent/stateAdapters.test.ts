import { afterEach, describe, expect, it } from 'vitest';
import { createStateManager, type StateManager } from '../state/index.js';
import { createTracer } from '../trace/Tracer.js';
import { scriptedProvider } from './providers/scripted.js';
import { runAgent } from './runAgent.js';
import { conversationMemory, SEARCH_CACHE_COLLECTION, stateSearchCache } from './stateAdapters.js';

describe('state adapters', () => {
  let state: StateManager;
  afterEach(async () => state?.close());

  it('keeps a user conversation across runs through the state manager', async () => {
    state = createStateManager({ purgeIntervalMs: 0 });
    const memory = conversationMemory(state.conversations);
    const provider = scriptedProvider([{ content: 'Hello Ada.' }, (req) => ({ content: `I remember ${req.messages.length - 1} earlier messages.` })]);
    const tracer = createTracer({ enabled: false });
    await runAgent({ message: 'I am Ada', userId: 'u1', provider, memory, tracer });
    const second = await runAgent({ message: 'Who am I?', userId: 'u1', provider, memory, tracer });
    expect(second.output).toBe('I remember 2 earlier messages.');
    expect(provider.calls[1]!.messages.map((m) => `${m.role}:${m.content}`)).toEqual(['user:I am Ada', 'assistant:Hello Ada.', 'user:Who am I?']);
    expect(await memory.load('u2')).toEqual([]);
  });

  it('loads only valid chat messages, starting at the first user message', async () => {
    state = createStateManager({ purgeIntervalMs: 0 });
    await state.conversations.save('u', [
      { role: 'tool', toolCallId: 'orphan', name: 'x', content: '{}' },
      { role: 'assistant', content: 'left over' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'datetime', input: {} }] },
      { role: 'tool', toolCallId: 'c1', name: 'datetime', content: '{"ok":true}', isError: true },
      { role: 'assistant', content: 'bad calls', toolCalls: [{ name: 'no-id' }] },
      { role: 'assistant', content: 'bad calls', toolCalls: 'nope' },
      { role: 'tool', content: 'no id' },
      { role: 'system', content: 'unknown role' },
      { role: 'user', content: { not: 'text' } },
      { role: 'assistant', content: 'done' },
    ]);
    const loaded = await conversationMemory(state.conversations).load('u');
    expect(loaded).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'datetime', input: {} }] },
      { role: 'tool', toolCallId: 'c1', name: 'datetime', content: '{"ok":true}', isError: true },
      { role: 'assistant', content: 'done' },
    ]);
    await state.conversations.save('v', [{ role: 'assistant', content: 'no user at all' }]);
    expect(await conversationMemory(state.conversations).load('v')).toEqual([]);
  });

  it('stores web search results in the search collection with the given TTL', async () => {
    state = createStateManager({ purgeIntervalMs: 0 });
    const cache = stateSearchCache(state);
    await cache.set('q', { results: [1] }, 60_000);
    expect(await cache.get('q')).toEqual({ results: [1] });
    expect(await state.get(SEARCH_CACHE_COLLECTION, 'q')).toEqual({ results: [1] });
    expect(await cache.get('missing')).toBeUndefined();
  });
});
