/**
 * The one contract every L2Store backend passes (SQLite, Postgres, Redis). `create` returns a fresh, empty store;
 * `createPeer` (optional) a second store over the same data, as a second service instance would have.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreClosedError } from '../common/persistence/errors.js';
import type { L2Store } from './L2Store.js';

export interface L2Contract {
  create: () => Promise<L2Store>;
  /** A second instance over the same data as the last `create()`. */
  createPeer?: () => Promise<L2Store>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runL2Contract({ create, createPeer }: L2Contract): void {
  let stores: L2Store[] = [];
  const stops: (() => void)[] = [];
  const open = async (peer = false) => {
    const s = peer && createPeer ? await createPeer() : await create();
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  describe('L2 contract', () => {
    it('sets, gets, overwrites and deletes, with collections kept apart', async () => {
      const l2 = await open();
      const key = `k-${randomBytes(4).toString('hex')}`;
      expect(await l2.get('sessions', key)).toBeUndefined();
      await l2.set('sessions', key, '{"a":1}', 60_000);
      await l2.set('search', key, '"other"', 60_000);
      const entry = await l2.get('sessions', key);
      expect(entry?.value).toBe('{"a":1}');
      expect(entry!.expiresAt).toBeGreaterThan(Date.now() + 50_000);
      expect(entry!.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000 + 50);
      await l2.set('sessions', key, '{"a":2}', 120_000);
      expect((await l2.get('sessions', key))?.value).toBe('{"a":2}');
      expect((await l2.get('sessions', key))!.expiresAt).toBeGreaterThan(Date.now() + 110_000);
      expect(await l2.delete('sessions', key)).toBe(true);
      expect(await l2.delete('sessions', key)).toBe(false);
      expect(await l2.get('sessions', key)).toBeUndefined();
      expect((await l2.get('search', key))?.value).toBe('"other"');
    });

    it('stores awkward keys and large values intact', async () => {
      const l2 = await open();
      const keys = ['with:colon', 'ünïcødé-🔑', "quote'; DROP TABLE state_entries; --", 'x'.repeat(512)];
      const big = JSON.stringify({ text: 'é'.repeat(200_000) });
      for (const k of keys) await l2.set('conversations', k, big, 60_000);
      for (const k of keys) expect((await l2.get('conversations', k))?.value).toBe(big);
    });

    it('enforces expiry on read and purges expired entries', async () => {
      const l2 = await open();
      const key = `exp-${randomBytes(4).toString('hex')}`;
      await l2.set('search', key, '1', 40);
      await l2.set('search', `${key}-live`, '2', 60_000);
      await sleep(120);
      expect(await l2.get('search', key)).toBeUndefined();
      const purged = await l2.purgeExpired();
      if (l2.backend === 'redis') expect(purged).toBe(0);
      else expect(purged).toBe(1);
      expect((await l2.get('search', `${key}-live`))?.value).toBe('2');
    });

    it('purges in chunks when many entries expired', async () => {
      const l2 = await open();
      await Promise.all(Array.from({ length: 1500 }, (_, i) => l2.set('search', `bulk-${i}`, '0', 1)));
      await sleep(20);
      const purged = await l2.purgeExpired(Date.now() + 10);
      expect(purged).toBe(l2.backend === 'redis' ? 0 : 1500);
      expect(await l2.get('search', 'bulk-7')).toBeUndefined();
    });

    it('pings, and refuses work after close', async () => {
      const l2 = await open();
      await l2.ping();
      await l2.close();
      await l2.close();
      await expect(l2.get('sessions', 'k')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(l2.set('sessions', 'k', '1', 1000)).rejects.toBeInstanceOf(StoreClosedError);
      await expect(l2.purgeExpired()).rejects.toBeInstanceOf(StoreClosedError);
      await expect(l2.ping()).rejects.toBeInstanceOf(StoreClosedError);
    });

    it.skipIf(!createPeer)('is shared by two instances over the same data', async () => {
      const a = await open();
      const b = await open(true);
      await a.set('sessions', 'shared-key', '{"from":"a"}', 60_000);
      expect((await b.get('sessions', 'shared-key'))?.value).toBe('{"from":"a"}');
      await b.delete('sessions', 'shared-key');
      expect(await a.get('sessions', 'shared-key')).toBeUndefined();
    });

    it('appends to lists atomically, trims by count and bytes, and keeps lists apart from values', async () => {
      const l2 = await open();
      const key = `list-${randomBytes(4).toString('hex')}`;
      expect(await l2.getList('conversations', key)).toBeUndefined();
      expect(await l2.appendList('conversations', key, ['"a"', '"b"'], { maxItems: 3, maxBytes: 1000 }, 60_000)).toEqual(['"a"', '"b"']);
      expect(await l2.appendList('conversations', key, ['"c"', '"d"'], { maxItems: 3, maxBytes: 1000 }, 60_000)).toEqual(['"b"', '"c"', '"d"']);
      // 1 + (3+1) per item: 9 bytes hold two items; the newest one always stays.
      expect(await l2.appendList('conversations', key, ['"é"'], { maxItems: 3, maxBytes: 10 }, 60_000)).toEqual(['"d"', '"é"']);
      expect(await l2.appendList('conversations', key, ['"long item"'], { maxItems: 3, maxBytes: 5 }, 60_000)).toEqual(['"long item"']);
      expect(await l2.get('conversations', key)).toBeUndefined();
      expect(await l2.getList('conversations', key)).toEqual(['"long item"']);
      expect(await l2.delete('conversations', key)).toBe(true);
      expect(await l2.getList('conversations', key)).toBeUndefined();
    });

    it.skipIf(!createPeer)('loses no append when two instances append to one list at once', async () => {
      const a = await open();
      const b = await open(true);
      const key = `race-${randomBytes(4).toString('hex')}`;
      const bounds = { maxItems: 1000, maxBytes: 100_000 };
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).appendList('conversations', key, [`"${i}-1"`, `"${i}-2"`], bounds, 60_000)),
      );
      const items = (await a.getList('conversations', key))!;
      expect(items).toHaveLength(80);
      // Each append's items stay together and in order.
      for (let i = 0; i < items.length; i += 2) expect(items[i + 1]).toBe(items[i]!.replace('-1"', '-2"'));
    });

    it.skipIf(!createPeer)('delivers published messages to subscribers on other instances', async () => {
      const a = await open();
      const b = await open(true);
      if (!a.publish || !b.subscribe) return; // SQLite: one instance, no feed
      const got: string[] = [];
      const listening = new Promise<void>((resolve) => {
        const stop = b.subscribe!({ message: (m) => got.push(m), resync: (on) => on && resolve() });
        stops.push(stop);
      });
      await listening;
      const arrived = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (got.includes('hello')) {
            clearInterval(check);
            resolve();
          }
        }, 5);
      });
      await a.publish('hello');
      await arrived;
      expect(got).toContain('hello');
    });
  });
}
