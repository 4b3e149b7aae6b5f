/**
 * GDPR erasure meets OTLP ingest, on a real service over HTTP with SQLite and with Postgres: spans of a user still
 * pending assembly are erased with the user's stored traces, so a later sweep cannot bring them back; spans of other
 * users are untouched; spans sent after the erasure for the same trace id are new data and form a new trace of their own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../src/server/service.js';

const API = `api-${'e'.repeat(30)}`;
const ADMIN = `admin-${'r'.repeat(30)}`;
const PG_URL = process.env.AGENTEX_TEST_DATABASE_URL;
const silent = pino({ level: 'silent' });
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Backend {
  name: string;
  skip: boolean;
  setup(): Promise<{ env: Record<string, string>; flags: Record<string, string>; teardown(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async setup() {
      const dir = mkdtempSync(path.join(tmpdir(), 'agentex-erase-'));
      return { env: {}, flags: { '--sqlite-path': path.join(dir, 'erase.db') }, teardown: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'Postgres',
    skip: !PG_URL,
    async setup() {
      const dbName = `agentex_erase_${hex(4)}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      const url = new URL(PG_URL!);
      url.pathname = `/${dbName}`;
      return {
        env: { AGENTEX_DATABASE_URL: url.toString() },
        flags: {},
        async teardown() {
          await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
          await admin.end();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`erasure of a user with spans pending assembly (${backend.name})`, () => {
    let svc: RunningService;
    let teardown: () => Promise<void> = async () => undefined;

    beforeAll(async () => {
      const b = await backend.setup();
      teardown = b.teardown;
      svc = await startService({
        // A long settle and window: nothing is finalized by the timer during the test, only by `flush()`.
        env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_SAMPLE_RATE: '1', AGENTEX_INGEST_SETTLE_MS: '600000', ...b.env },
        flags: { '--port': '0', ...b.flags },
        logger: silent,
      });
    }, 60_000);
    afterAll(async () => {
      await svc?.close();
      await teardown();
    });

    const now = Date.now();
    const span = (traceId: string, spanId: string, parent: string | null, userId?: string) => ({
      traceId,
      spanId,
      ...(parent ? { parentSpanId: parent } : {}),
      name: parent ? 'execute_tool search' : 'invoke_agent helper',
      startTimeUnixNano: `${now}000000`,
      endTimeUnixNano: `${now + 5}000000`,
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: parent ? 'execute_tool' : 'invoke_agent' } },
        ...(userId ? [{ key: 'user.id', value: { stringValue: userId } }] : []),
      ],
    });
    const post = async (spans: object[]) => {
      const res = await fetch(`${svc.url}/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
      });
      expect(res.status).toBe(200);
    };

    it('deletes the pending spans of the user, keeps those of others, and a later span starts a new trace', async () => {
      const user = `u-${hex(4)}`;
      const other = `o-${hex(4)}`;
      const mine = hex(16);
      const stored = hex(16);
      const theirs = hex(16);
      const [root, child, late] = [hex(8), hex(8), hex(8)];
      // One of the user's traces is stored already and gains a pending child (that names no user: the stored trace
      // does); another is only pending; one of another user.
      await post([span(stored, root, null, user)]);
      await svc.ingest.flush();
      expect((await svc.store.get(stored))?.userId).toBe(user);
      await post([span(stored, child, root)]);
      await post([span(mine, hex(8), null, user), span(theirs, hex(8), null, other)]);
      await post([span(mine, hex(8), null, user)]);
      expect((await svc.store.pendingSize()).traces).toBe(3);

      const res = await fetch(`${svc.url}/api/users/${user}/traces`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ deleted: 1 });
      expect(await svc.store.pendingSize()).toEqual({ spans: 1, traces: 1 });
      await svc.ingest.flush();
      expect(await svc.store.get(stored)).toBeNull();
      expect(await svc.store.get(mine)).toBeNull();
      expect((await svc.store.list({ userId: user })).traces).toEqual([]);
      expect((await svc.store.get(theirs))?.userId).toBe(other);

      // Sent after the erasure: new data, stored as a new (partial, no root) trace holding only that span.
      await post([span(stored, late, root, user)]);
      await svc.ingest.flush();
      const again = await svc.store.get(stored);
      expect(again?.spans.map((s) => s.spanId)).toEqual([late]);
      expect(again?.metadata.partial).toBe(true);
    }, 60_000);
  });
}
