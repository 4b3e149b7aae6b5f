/**
 * Circuit state on Redis: a hash per circuit (and a sorted set of probe leases), changed only by one Lua script —
 * the transcription of `applyCircuitOp` — that also PUBLISHes the new record, so the change and its announcement are
 * one atomic step and subscribers see changes in version order. Every instance keeps a subscriber connection.
 */
import type { Redis } from 'ioredis';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { MAX_PROBE_LEASES, parseCircuitChange, type CircuitChange, type CircuitOpResult, type CircuitStateOp, type CircuitStateStore, type SharedCircuitRecord } from '../resilience/CircuitStateStore.js';
import type { CircuitState, StateChangeReason } from '../resilience/CircuitBreaker.js';
import { Emitter } from '../resilience/Emitter.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import type { StateLogger } from './L2Store.js';

export interface RedisCircuitStateStoreOptions {
  /** `redis://…` or `rediss://…`. */
  url: string;
  /** Prefix of every key and of the channel. Default `agentex:circuits:`. */
  keyPrefix?: string;
  /** How long creation waits for the first connection before returning anyway (unavailable), ms. Default 2000. */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts, ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** Where connection loss is reported (once per outage). Default: stderr. */
  logger?: StateLogger;
}

/** KEYS: circuit hash, its probe leases. ARGV: channel, name, op, op arguments. Mirrors `applyCircuitOp`. */
const SCRIPT = `
local h, z = KEYS[1], KEYS[2]
local cur = redis.call('HMGET', h, 'state', 'version', 'openUntil', 'reason', 'succ')
local state, version, openUntil, reason, succ = cur[1] or 'closed', tonumber(cur[2] or '0'), tonumber(cur[3] or '0'), cur[4] or 'reset', tonumber(cur[5] or '0')
local op, changed, admitted = ARGV[3], 0, 0
local function bump(s, r, u)
  state, reason, openUntil, version, succ, changed = s, r, u, version + 1, 0, 1
  redis.call('DEL', z)
end
if op == 'open' then
  if state ~= 'open' then bump('open', ARGV[4], tonumber(ARGV[5])) end
elseif op == 'acquireProbe' then
  local now, maxP, lease = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  if state == 'open' and now >= openUntil then bump('half_open', 'cooldown_elapsed', 0) end
  if state == 'half_open' then
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if redis.call('ZCARD', z) < maxP then
      redis.call('ZADD', z, now + lease, ARGV[7])
      redis.call('PEXPIRE', z, lease + 60000)
      admitted = 1
    end
  end
elseif op == 'probeDone' or op == 'releaseProbe' then
  if state == 'half_open' and version == tonumber(ARGV[4]) and redis.call('ZREM', z, ARGV[5]) == 1 and op == 'probeDone' then
    if ARGV[6] ~= '1' then bump('open', 'probe_failed', tonumber(ARGV[8]))
    elseif succ + 1 >= tonumber(ARGV[7]) then bump('closed', 'probes_succeeded', 0)
    else succ = succ + 1; redis.call('HSET', h, 'succ', succ) end
  end
elseif op == 'reset' then
  bump('closed', 'reset', 0)
end
if changed == 1 then
  redis.call('HSET', h, 'state', state, 'version', version, 'openUntil', openUntil, 'reason', reason, 'succ', succ)
  redis.call('PUBLISH', ARGV[1], cjson.encode({ n = ARGV[2], s = state, v = version, u = openUntil, r = reason }))
end
return { state, tostring(version), tostring(openUntil), reason, changed, admitted }
`;

type ScriptReply = [string, string, string, string, number, number];
interface ScriptClient extends Redis {
  agentexCircuit(hash: string, leases: string, ...argv: (string | number)[]): Promise<ScriptReply>;
}

const consoleLogger: StateLogger = { warn: (fields, message) => console.warn(`[agentex] ${message}`, fields) };

/**
 * Connects to Redis (a command connection and a subscriber). When Redis is unreachable it still returns after
 * `connectTimeoutMs`, unavailable; both connections keep reconnecting and `onAvailability(true)` fires when back.
 * @throws InvalidOptionsError for bad options.
 */
export async function createRedisCircuitStateStore(options: RedisCircuitStateStoreOptions): Promise<CircuitStateStore> {
  const where = 'createRedisCircuitStateStore';
  assertKnownKeys(where, options, ['url', 'keyPrefix', 'connectTimeoutMs', 'commandTimeoutMs', 'maxReconnectDelayMs', 'logger']);
  const { url, keyPrefix = 'agentex:circuits:', connectTimeoutMs = 2000, commandTimeoutMs = 1000, maxReconnectDelayMs = 2000, logger = consoleLogger } =
    options ?? ({} as RedisCircuitStateStoreOptions);
  assertString(where, 'url', url, 4096);
  if (!/^rediss?:\/\//.test(url)) throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to start with redis:// or rediss://');
  assertString(where, 'keyPrefix', keyPrefix, 200);
  assertNumber(where, 'connectTimeoutMs', connectTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'commandTimeoutMs', commandTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'maxReconnectDelayMs', maxReconnectDelayMs, { integer: true, min: 1 });
  const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxReconnectDelayMs);
  // The driver loads here, when a Redis circuit store is opened: importing this module never loads `ioredis`.
  const ioredis = await import('ioredis');
  const client = new ioredis.Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    retryStrategy,
  }) as ScriptClient;
  client.defineCommand('agentexCircuit', { numberOfKeys: 2, lua: SCRIPT });
  const subscriber = new ioredis.Redis(url, { lazyConnect: true, connectTimeout: connectTimeoutMs, retryStrategy, maxRetriesPerRequest: null, autoResubscribe: false });
  const store = new RedisCircuitStateStore(client, subscriber, keyPrefix, logger);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([client.connect().catch(() => undefined), subscriber.connect().catch(() => undefined)]),
    // Ref'd: the caller waits on this deadline; cleared as soon as the race is decided.
    new Promise((resolve) => {
      timer = setTimeout(resolve, connectTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  await store.start();
  return store;
}

class RedisCircuitStateStore implements CircuitStateStore {
  readonly backend = 'redis' as const;
  private closed = false;
  private reported = false;
  private commandsUp = false;
  private subscribed = false;
  private wasAvailable = false;
  private readonly channel: string;
  private readonly changes = new Emitter<CircuitChange>();
  private readonly availability = new Emitter<boolean>();

  constructor(
    private readonly client: ScriptClient,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    logger: StateLogger,
  ) {
    this.channel = `${prefix}changes`;
    const lost = (err?: Error) => {
      if (this.closed) return;
      if (!this.reported) {
        this.reported = true;
        logger.warn({ backend: 'redis', error: err ? describeCause(err) : 'connection closed' }, 'Redis circuit state unreachable; circuits run on local state');
      }
      this.update();
    };
    client.on('error', lost);
    subscriber.on('error', lost);
    client.on('ready', () => {
      this.commandsUp = true;
      this.update();
    });
    client.on('close', () => {
      this.commandsUp = false;
      lost();
    });
    subscriber.on('close', () => {
      this.subscribed = false;
      lost();
    });
    // Subscribed again by us (not ioredis's autoResubscribe) so that "available" means the SUBSCRIBE was confirmed:
    // a change published after that is heard, one before it is caught by the breakers' re-read on rejoin.
    subscriber.on('ready', () => void this.subscribe());
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const change = parseCircuitChange(message);
      if (change) this.changes.emit(change);
    });
  }

  async start(): Promise<void> {
    this.commandsUp = this.client.status === 'ready';
    if (this.subscriber.status === 'ready') await this.subscribe();
    this.update();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
    } catch {
      // Reported by the 'error' listener; tried again on the next 'ready'.
    }
    this.update();
  }

  get available(): boolean {
    return !this.closed && this.commandsUp && this.subscribed;
  }

  private update(): void {
    const now = this.available;
    if (now === this.wasAvailable) return;
    this.wasAvailable = now;
    if (now) this.reported = false;
    this.availability.emit(now);
  }

  private keys(name: string): [string, string] {
    return [`${this.prefix}c:${name}`, `${this.prefix}c:${name}:probes`];
  }

  async read(name: string): Promise<SharedCircuitRecord> {
    if (this.closed) throw new StoreClosedError('redis');
    try {
      const [state, version, openUntil, reason] = await this.client.hmget(this.keys(name)[0], 'state', 'version', 'openUntil', 'reason');
      return {
        state: (state ?? 'closed') as CircuitState,
        version: Number(version ?? 0),
        openUntil: Number(openUntil ?? 0),
        reason: (reason ?? 'reset') as StateChangeReason,
      };
    } catch (err) {
      throw new StoreUnavailableError('redis', 'read circuit', err);
    }
  }

  async apply(name: string, op: CircuitStateOp): Promise<CircuitOpResult> {
    if (this.closed) throw new StoreClosedError('redis');
    const args: (string | number)[] = [this.channel, name, op.type];
    if (op.type === 'open') args.push(op.reason, op.openUntil);
    else if (op.type === 'acquireProbe') args.push(op.now, Math.min(op.maxProbes, MAX_PROBE_LEASES), op.leaseMs, op.token);
    else if (op.type === 'probeDone') args.push(op.version, op.token, op.ok ? '1' : '0', op.successThreshold, op.openUntil);
    else if (op.type === 'releaseProbe') args.push(op.version, op.token);
    let reply: ScriptReply;
    try {
      reply = await this.client.agentexCircuit(...this.keys(name), ...args);
    } catch (err) {
      throw new StoreUnavailableError('redis', `circuit ${op.type}`, err);
    }
    const [state, version, openUntil, reason, changed, admitted] = reply;
    return {
      record: { state: state as CircuitState, version: Number(version), openUntil: Number(openUntil), reason: reason as StateChangeReason },
      changed: changed === 1,
      admitted: admitted === 1,
    };
  }

  onChange(listener: (change: CircuitChange) => void) {
    return this.changes.on(listener);
  }

  onAvailability(listener: (up: boolean) => void) {
    return this.availability.on(listener);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- disconnect is synchronous
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.changes.clear();
    this.availability.clear();
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}

