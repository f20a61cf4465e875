// Reads from memory on PostgreSQL: linearizable through read barriers, never stale across a lost feed or a restart, bounded.

import { describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgresStore.js';
import { StoreUnavailable, type Change } from '../../src/store/port.js';
import { SimulatedClock } from '../support/clock.js';
import { startPgProxy } from '../support/pgProxy.js';
import { until } from '../support/wait.js';
import { postgresForFile, update } from './postgresStores.js';

const { stores, server } = postgresForFile();

/** Reads `key` until PostgreSQL answers (it may be restarting). */
async function readSoon(store: PostgresStore, collection: string, key: string): Promise<number | undefined> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return (await store.get(collection, key))?.revision;
    } catch (error) {
      if (!(error instanceof StoreUnavailable) || attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function heardBy(store: PostgresStore): Change[][] {
  const heard: Change[][] = [];
  store.onChange((changes) => heard.push([...changes]));
  return heard;
}

// The feed's connection: its last statement is its LISTEN, or a read barrier it carried since.
const feedOf = (application: string) => `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${application}'
  AND (query LIKE 'LISTEN%' OR query LIKE 'SELECT set_config(''synchronous_commit'', ''off'', true), pg_notify%')`;

describe('PostgreSQL store: reads from memory', () => {
  it('no read on any replica returns an older revision than one acknowledged on another before it started: writes and reads racing, hundreds of rounds', async () => {
    const replicas = await stores.replicas(3);
    const keys = ['k0', 'k1', 'k2', 'k3'];
    await replicas[0]!.commit(keys.map((key) => ({ collection: 'race', key, value: 0 })));
    const acknowledged = new Map(keys.map((key) => [key, 1]));
    const stale: string[] = [];
    let writing = true;
    let reads = 0;
    const writer = async (store: PostgresStore, rounds: number): Promise<void> => {
      for (let round = 0; round < rounds; round += 1) {
        const key = keys[round % keys.length]!;
        const before = await update<number>(store, 'race', key, (value) => (value ?? 0) + 1);
        const revision = before!.revision + 1;
        acknowledged.set(key, Math.max(acknowledged.get(key)!, revision));
      }
    };
    const reader = async (store: PostgresStore, at: number): Promise<void> => {
      while (writing) {
        const floors = new Map(acknowledged);
        if (at % 2) {
          const found = await store.getMany<number>('race', keys);
          for (const key of keys) if (found.get(key)!.revision < floors.get(key)!) stale.push(`${key}: ${found.get(key)!.revision} < ${floors.get(key)!}`);
        } else {
          const key = keys[reads % keys.length]!;
          const revision = (await store.get('race', key))!.revision;
          if (revision < floors.get(key)!) stale.push(`${key}: ${revision} < ${floors.get(key)!}`);
        }
        reads += 1;
        // A read answered from memory takes no I/O: let the writers on.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const readers = replicas.flatMap((store) => [0, 1, 2, 3].map((at) => reader(store, at)));
    await Promise.all([writer(replicas[0]!, 200), writer(replicas[1]!, 200), writer(replicas[2]!, 100)]);
    writing = false;
    await Promise.all(readers);
    expect(stale).toEqual([]);
    expect(reads).toBeGreaterThan(500);
    const stats = replicas.map((store) => store.stats().reads);
    // Answered from memory for the most part, with far fewer barriers than reads: they are shared.
    for (const { hits, misses, barriers } of stats) {
      expect(hits).toBeGreaterThan(misses);
      expect(barriers.sent).toBeLessThan(hits);
      expect(barriers.failed).toBe(0);
    }
    expect(await replicas[2]!.get('race', 'k0')).toMatchObject({ value: 125, revision: 126 });
  }, 60_000);

  it('the change feed killed: the cache is cleared and reads go to PostgreSQL until the feed is back, then from memory again', async () => {
    const [a, b] = await stores.replicas(2);
    await a!.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await b!.get('c', 'k');
    expect((await b!.get('c', 'k'))?.value).toBe(1);
    expect(b!.stats().reads.entries).toBe(1);
    // Killed and, at once, changed: whether b has noticed yet or not, it must not answer what it kept.
    expect((await server().psql('postgres', feedOf('replica-1'))).trim()).toBe('1');
    await a!.commit([{ collection: 'c', key: 'k', value: 2 }]);
    expect((await b!.get('c', 'k'))?.value).toBe(2);
    await until(() => b!.health().warning === undefined && b!.stats().reads.barriers.heard > 0, 'the feed back');
    const direct = b!.stats().reads.direct;
    expect(direct).toBeGreaterThan(0);
    await a!.commit([{ collection: 'c', key: 'k', value: 3 }]);
    expect((await b!.get('c', 'k'))?.value).toBe(3);
    const { hits } = b!.stats().reads;
    expect((await b!.get('c', 'k'))?.value).toBe(3);
    expect(b!.stats().reads).toMatchObject({ hits: hits + 1, direct });
  });

  it('the change feed killed and noticed: nothing kept, every read a query, until it is back', async () => {
    const [a, b] = await stores.replicas(2);
    await a!.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await b!.get('c', 'k');
    // Listening again takes 100 ms or more, so the loss is seen first.
    expect((await server().psql('postgres', feedOf('replica-1'))).trim()).toBe('1');
    await until(() => b!.health().warning !== undefined, 'the feed lost');
    expect(b!.stats().reads.entries).toBe(0);
    await a!.commit([{ collection: 'c', key: 'k', value: 2 }]);
    const direct = b!.stats().reads.direct;
    expect((await b!.get('c', 'k'))?.value).toBe(2);
    expect(b!.stats().reads.direct).toBe(direct + 1);
  });

  it('a feed gone deaf: a read waits on its barrier until the timeout on the clock, then answers from PostgreSQL; the feed listens again and reads come from memory', async () => {
    const proxy = await startPgProxy(server().host, server().port);
    try {
      const clock = new SimulatedClock();
      const timeoutMs = 8_000;
      const database = await stores.freshDatabase();
      const a = await stores.open(database);
      const b = await stores.open(database, 'application_name=replica-b', { clock, barrierTimeoutMs: timeoutMs }, proxy.port);
      await a.commit([{ collection: 'c', key: 'k', value: 1 }]);
      await b.get('c', 'k');
      expect((await b.get('c', 'k'))?.value).toBe(1);
      expect(b.stats().reads).toMatchObject({ hits: 1, misses: 1, barriers: { failed: 0 } });

      // b's notifications stop arriving while its queries are answered: it keeps value 1 while PostgreSQL holds 2.
      proxy.dropNotifications(true);
      await a.commit([{ collection: 'c', key: 'k', value: 2 }]);
      const timers = clock.timers;
      let answered: unknown;
      const reading = b.get('c', 'k').then((found) => (answered = found));
      await until(() => clock.timers === timers + 1, "the barrier's timeout armed on the clock once its NOTIFY committed");
      await clock.advance(timeoutMs - 1);
      // A round trip to PostgreSQL, as long as the read would need to answer had it been released.
      await a.count('c');
      expect(answered).toBeUndefined();
      expect(b.stats().reads.barriers.failed).toBe(0);
      await clock.advance(1);
      // Well within the timeout in real time: only the clock can have released it.
      await until(() => answered !== undefined, 'the read released by the clock');
      await reading;
      expect(answered).toEqual({ key: 'k', value: 2, revision: 2 });
      expect(b.stats().reads).toMatchObject({ hits: 1, misses: 2, barriers: { failed: 1 } });
      expect(b.health().warning).toMatch(/the change feed from PostgreSQL at .* is lost \(a read barrier did not come back within 8000 ms\)/);

      // Dropped, the feed listens again once the clock reaches its reconnection (100 ms at first); reads go to PostgreSQL meanwhile.
      proxy.dropNotifications(false);
      await a.commit([{ collection: 'c', key: 'k', value: 3 }]);
      expect(await b.get('c', 'k')).toMatchObject({ value: 3, revision: 3 });
      expect(b.stats().reads.direct).toBe(1);
      expect(b.health().warning).toBeDefined();
      // b's one timer on the clock: that reconnection (the barrier's fired, the heartbeat went with the connection).
      expect(clock.timers).toBe(1);
      await clock.advance(100);
      await until(() => b.health().warning === undefined, 'the feed back');
      expect((await b.get('c', 'k'))?.value).toBe(3);
      expect((await b.get('c', 'k'))?.value).toBe(3);
      await a.commit([{ collection: 'c', key: 'k', value: 4 }]);
      expect(await b.get('c', 'k')).toMatchObject({ value: 4, revision: 4 });
      expect(b.stats().reads).toMatchObject({ hits: 3, misses: 3, direct: 1, barriers: { failed: 1 } });
    } finally {
      await stores.closeAll();
      await proxy.close();
    }
  });

  it('PostgreSQL restarted: reads on the replica that kept a document see what another committed since', async () => {
    const [a, b] = await stores.replicas(2);
    await a!.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await b!.get('c', 'k');
    expect(await b!.get('c', 'k')).toMatchObject({ revision: 1 });
    await server().control('restart');
    await update<number>(a!, 'c', 'k', (value) => value! + 1).catch(() => update<number>(a!, 'c', 'k', (value) => value! + 1));
    expect(await readSoon(b!, 'c', 'k')).toBe(2);
    await until(() => b!.health().warning === undefined, 'the feed back', 20_000);
    await a!.commit([{ collection: 'c', key: 'k', value: 3 }]);
    expect(await readSoon(b!, 'c', 'k')).toBe(3);
    expect(await readSoon(b!, 'c', 'k')).toBe(3);
  }, 60_000);

  it('a document too big for a notification reaches other replicas as its key, is read back, and never answered stale', async () => {
    const [a, b] = await stores.replicas(2);
    const heard = heardBy(b!);
    const big = (n: number) => ({ n, text: 'x'.repeat(10_000) });
    await a!.commit([{ collection: 'c', key: 'big', value: big(1) }]);
    expect((await b!.get('c', 'big'))?.value).toEqual(big(1));
    await a!.commit([{ collection: 'c', key: 'big', value: big(2) }, { collection: 'c', key: 'small', value: 2 }]);
    expect((await b!.get('c', 'big'))?.value).toEqual(big(2));
    // b answered 'big' from PostgreSQL, ahead of its feed: until a barrier shows the feed caught up, changes of it come without it.
    await b!.get('c', 'small');
    await a!.commit([{ collection: 'c', key: 'big', value: { n: 3 } }]);
    expect(await b!.get('c', 'big')).toEqual({ key: 'big', value: { n: 3 }, revision: 3 });
    const told = heard.flat().filter(({ collection }) => collection === 'c');
    expect(told).toEqual([
      { collection: 'c', key: 'big' },
      { collection: 'c', key: 'big' },
      { collection: 'c', key: 'small', committed: { key: 'small', value: 2, revision: 1 } },
      { collection: 'c', key: 'big', committed: { key: 'big', value: { n: 3 }, revision: 3 } },
    ]);
  });

  it('keeps at most the entries it is given, the least recently used going first; a notification naming nothing clears it', async () => {
    const database = await stores.freshDatabase();
    const a = await stores.open(database);
    const b = await stores.open(database, '', { cacheEntries: 20 });
    const keys = Array.from({ length: 100 }, (_, at) => `k${at}`);
    const heard = heardBy(b);
    await a.commit(keys.map((key, at) => ({ collection: 'c', key, value: at })));
    await until(() => heard.length > 0, 'the commit heard');
    // Every document came with the notification: the last 20 are kept.
    expect(b.stats().reads.entries).toBe(20);
    for (const key of keys) {
      expect((await b.get('c', key))?.value).toBe(keys.indexOf(key));
      // k0 read again each time: the most recently used, never the one to go.
      expect((await b.get('c', 'k0'))?.value).toBe(0);
      expect(b.stats().reads.entries).toBeLessThanOrEqual(20);
    }
    const { hits, misses } = b.stats().reads;
    expect(misses).toBe(100);
    expect(hits).toBe(100);
    expect((await b.getMany('c', ['k0', 'k99', 'k1'])).size).toBe(3);
    expect(b.stats().reads.misses).toBe(101);
    await server().psql(database, "NOTIFY chartd_changes, 'not from chartd'");
    await until(() => heard.some((changes) => changes.length === 0), 'anything may have changed, heard');
    expect(b.stats().reads.entries).toBe(0);
  });
});
