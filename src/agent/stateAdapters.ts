/**
 * The seams between the state manager and the runtime: its `conversations` helpers as the loop's
 * {@link ConversationMemory}, and its `search` collection as web_search's {@link SearchCache}. Both are structural
 * (any object with the same methods works), so the agent does not depend on a particular state backend.
 */
import type { SearchCache } from '../tools/webSearch.js';
import type { ChatMessage, ToolCall } from './providers/types.js';
import type { ConversationMemory } from './runAgent.js';

/** What {@link conversationMemory} needs: the state manager's `conversations` (load and append). */
export interface ConversationStore {
  load(userId: string | number): Promise<readonly { role: string; content: unknown; [field: string]: unknown }[]>;
  append(userId: string | number, ...messages: { role: string; content: unknown; [field: string]: unknown }[]): Promise<unknown>;
}

/** What {@link stateSearchCache} needs: the state manager's `get`/`set` on a named collection. */
export interface CollectionStore {
  get(collection: string, key: string): Promise<unknown>;
  set(collection: string, key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
}

function toolCallOf(v: unknown): ToolCall | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const c = v as Record<string, unknown>;
  return typeof c.id === 'string' && typeof c.name === 'string' ? { id: c.id, name: c.name, input: c.input ?? {} } : undefined;
}

/** A stored message as a ChatMessage, or undefined when it is not one (stored by something else, or corrupted). */
function toChatMessage(m: { role: string; content: unknown; [field: string]: unknown }): ChatMessage | undefined {
  if (typeof m.content !== 'string') return undefined;
  if (m.role === 'user') return { role: 'user', content: m.content };
  if (m.role === 'assistant') {
    if (m.toolCalls === undefined) return { role: 'assistant', content: m.content };
    if (!Array.isArray(m.toolCalls)) return undefined;
    const calls = m.toolCalls.map(toolCallOf);
    if (calls.some((c) => c === undefined)) return undefined;
    return { role: 'assistant', content: m.content, toolCalls: calls as ToolCall[] };
  }
  if (m.role === 'tool' && typeof m.toolCallId === 'string' && m.toolCallId !== '') {
    return { role: 'tool', toolCallId: m.toolCallId, name: typeof m.name === 'string' ? m.name : 'unknown', content: m.content, ...(m.isError === true ? { isError: true } : {}) };
  }
  return undefined;
}

/**
 * Makes sure a loaded history is something a model API accepts: messages that are not chat messages are dropped,
 * and so is everything before the first user message (the store trims conversations from the front, which can cut
 * an assistant's tool calls away from their results).
 */
function sanitize(messages: readonly ChatMessage[]): ChatMessage[] {
  const first = messages.findIndex((m) => m.role === 'user');
  return first < 0 ? [] : messages.slice(first);
}

/**
 * The state manager's conversation helpers as the loop's memory.
 * @example runAgent({ ..., userId, memory: conversationMemory(state.conversations) })
 */
export function conversationMemory(conversations: ConversationStore): ConversationMemory {
  return {
    async load(userId) {
      const stored = await conversations.load(userId);
      const out: ChatMessage[] = [];
      for (const m of stored) {
        const chat = m !== null && typeof m === 'object' ? toChatMessage(m) : undefined;
        if (chat) out.push(chat);
      }
      return sanitize(out);
    },
    async append(userId, messages) {
      await conversations.append(userId, ...messages.map((m) => ({ ...m })));
    },
  };
}

/** Collection of the state manager holding web search results (15-minute TTL by default). */
export const SEARCH_CACHE_COLLECTION = 'search';

/**
 * The state manager's `search` collection as web_search's cache.
 * @example webSearchTool({ providers, cache: stateSearchCache(state) })
 */
export function stateSearchCache(state: CollectionStore, collection = SEARCH_CACHE_COLLECTION): SearchCache {
  return {
    get: (key) => state.get(collection, key),
    set: (key, value, ttlMs) => state.set(collection, key, value, { ttlMs }),
  };
}
