/**
 * The L2 on Redis: `SET key value PX ttl`, so Redis itself expires entries. Commands fail fast while disconnected
 * (no offline queue) and the client reconnects in the background, so an outage degrades the state manager to L1
 * instead of stalling the agent.
 */
import type { Redis } from 'ioredis';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import type { InvalidationHandlers, L2Entry, L2Store, ListBounds, StateLogger } from './L2Store.js';

export interface RedisL2StoreOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://…`. */
  url: string;
  /** Prefix of every key, so several apps (or test runs) share one Redis. Default `agentex:state:`. */
  keyPrefix?: string;
  /** How long `createRedisL2Store` waits for the first connection before returning anyway, ms. Default 2000. */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts, ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** Where connection loss is reported (once per outage). Default: stderr. */
  logger?: StateLogger;
}

/**
 * Append, trim (count, then bytes from the oldest; the newest item always stays), expire and read back, atomically.
 * KEYS[1] the list; ARGV: ttl ms, max items, max bytes, items….
 */
const APPEND_LIST = `
local key = KEYS[1]
for i = 4, #ARGV do redis.call('RPUSH', key, ARGV[i]) end
redis.call('LTRIM', key, -tonumber(ARGV[2]), -1)
local items = redis.call('LRANGE', key, 0, -1)
local total = 1
for i = 1, #items do total = total + string.len(items[i]) + 1 end
local drop = 0
while total > tonumber(ARGV[3]) and drop < #items - 1 do
  drop = drop + 1
  total = total - string.len(items[drop]) - 1
end
if drop > 0 then redis.call('LTRIM', key, drop, -1) end
redis.call('PEXPIRE', key, ARGV[1])
local kept = {}
for i = drop + 1, #items do kept[#kept + 1] = items[i] end
return kept`;

const consoleLogger: StateLogger = { warn: (fields, message) => console.warn(`[agentex] ${message}`, fields) };

/**
 * Connects to Redis. When Redis is unreachable it still returns (after `connectTimeoutMs`): commands then fail until
 * the background reconnection succeeds, and the state manager serves from L1 meanwhile.
 * @throws InvalidOptionsError for bad options.
 */
export async function createRedisL2Store(options: RedisL2StoreOptions): Promise<L2Store> {
  const where = 'createRedisL2Store';
  assertKnownKeys(where, options, ['url', 'keyPrefix', 'connectTimeoutMs', 'commandTimeoutMs', 'maxReconnectDelayMs', 'logger']);
  const { url, keyPrefix = 'agentex:state:', connectTimeoutMs = 2000, commandTimeoutMs = 1000, maxReconnectDelayMs = 2000, logger = consoleLogger } =
    options ?? ({} as RedisL2StoreOptions);
  assertString(where, 'url', url, 4096);
  if (!/^rediss?:\/\//.test(url)) throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to start with redis:// or rediss://');
  assertString(where, 'keyPrefix', keyPrefix, 200);
  assertNumber(where, 'connectTimeoutMs', connectTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'commandTimeoutMs', commandTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'maxReconnectDelayMs', maxReconnectDelayMs, { integer: true, min: 1 });
  // The driver loads here, when a Redis store is opened: importing this module never loads `ioredis`.
  const ioredis = await import('ioredis');
  const client = new ioredis.Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxReconnectDelayMs),
  });
  const store = new RedisL2Store(client, keyPrefix, logger);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.connect().catch(() => undefined), // the 'error' listener reports it; reconnection continues
    // Ref'd: the caller waits on this deadline (#16.5); it is cleared as soon as the race is decided.
    new Promise((resolve) => {
      timer = setTimeout(resolve, connectTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return store;
}

class RedisL2Store implements L2Store {
  readonly backend = 'redis' as const;
  private closed = false;
  private down = false;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    logger: StateLogger,
  ) {
    // Without a listener ioredis prints every failed attempt; report once per outage instead.
    client.on('error', (err: Error) => {
      if (this.down || this.closed) return;
      this.down = true;
      logger.warn({ backend: 'redis', error: describeCause(err) }, 'Redis connection lost; reconnecting in the background');
    });
    client.on('ready', () => {
      this.down = false;
    });
  }

  private key(collection: string, key: string): string {
    return `${this.prefix}${collection}:${key}`;
  }

  private listKey(collection: string, key: string): string {
    return `${this.prefix}list:${collection}:${key}`;
  }

  private get channel(): string {
    return `${this.prefix}invalidate`;
  }

  private readonly listeners = new Set<() => void>();

  async appendList(collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number): Promise<string[]> {
    const args = [Math.max(1, Math.round(ttlMs)), bounds.maxItems, bounds.maxBytes, ...items];
    return this.run('append', async () => (await this.client.eval(APPEND_LIST, 1, this.listKey(collection, key), ...args)) as string[]);
  }

  async getList(collection: string, key: string): Promise<string[] | undefined> {
    const items = await this.run('get', () => this.client.lrange(this.listKey(collection, key), 0, -1));
    return items.length > 0 ? items : undefined;
  }

  async publish(message: string): Promise<void> {
    await this.run('publish', () => this.client.publish(this.channel, message));
  }

  /** A subscriber connection of its own; every (re)subscription and every loss calls `resync`. */
  subscribe(handlers: InvalidationHandlers): () => void {
    const sub = this.client.duplicate({ autoResubscribe: false, enableOfflineQueue: false, lazyConnect: true });
    let subscribed = false;
    sub.on('error', () => undefined); // the command connection reports outages
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          subscribed = true;
          handlers.resync(true);
        },
        () => sub.disconnect(true),
      );
    });
    sub.on('close', () => {
      if (!subscribed) return;
      subscribed = false;
      handlers.resync(false);
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) handlers.message(message);
    });
    sub.connect().catch(() => undefined);
    const stop = () => {
      this.listeners.delete(stop);
      sub.disconnect();
    };
    this.listeners.add(stop);
    return stop;
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('redis');
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailableError('redis', operation, err);
    }
  }

  async get(collection: string, key: string): Promise<L2Entry | undefined> {
    const k = this.key(collection, key);
    const result = await this.run('get', () => this.client.multi().get(k).pttl(k).exec());
    const [getReply, ttlReply] = result ?? [];
    if (!getReply || !ttlReply || getReply[0] || ttlReply[0]) {
      throw new StoreUnavailableError('redis', 'get', getReply?.[0] ?? ttlReply?.[0] ?? new Error('transaction aborted'));
    }
    const value = getReply[1] as string | null;
    const ttl = ttlReply[1] as number;
    if (value === null || ttl === -2) return undefined;
    return { value, expiresAt: ttl > 0 ? Date.now() + ttl : Number.MAX_SAFE_INTEGER };
  }

  async set(collection: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.run('set', () => this.client.set(this.key(collection, key), value, 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async delete(collection: string, key: string): Promise<boolean> {
    return (await this.run('delete', () => this.client.del(this.key(collection, key), this.listKey(collection, key)))) > 0;
  }

  /** Redis expires keys itself. */
  // eslint-disable-next-line @typescript-eslint/require-await -- keeps the interface's rejection-on-closed behaviour
  async purgeExpired(): Promise<number> {
    if (this.closed) throw new StoreClosedError('redis');
    return 0;
  }

  async ping(): Promise<void> {
    await this.run('ping', () => this.client.ping());
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- disconnect is synchronous
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.listeners]) stop();
    this.client.disconnect();
  }
}
