// The PostgreSQL store against a real PostgreSQL: the port's contract, conflicts, group commit, schema migrations, leases.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgresStore.js';
import { readPostgresUrl } from '../../src/store/postgres/settings.js';
import { StoreUnavailable, WriteConflict, type Change, type Stored } from '../../src/store/port.js';
import { freePort } from '../support/postgres.js';
import { until } from '../support/wait.js';
import { outcome, postgresForFile } from './postgresStores.js';

const { stores, server } = postgresForFile();

const keysOf = (documents: readonly Stored<unknown>[]) => documents.map((document) => document.key);

async function openFresh(): Promise<PostgresStore> {
  return stores.open(await stores.freshDatabase());
}

describe('PostgreSQL store: schema', () => {
  it('three replicas starting at once on an empty database make the schema once, and all open', async () => {
    const database = await stores.freshDatabase();
    const opened = await Promise.all([1, 2, 3].map(() => stores.open(database)));
    expect(opened).toHaveLength(3);
    expect((await server().psql(database, 'SELECT version, what FROM chartd.schema_version ORDER BY version')).trim())
      .toBe('1|documents with revisions, due times and leases');
    await opened[0]!.commit([{ collection: 'c', key: 'k', value: 1 }]);
    expect((await opened[2]!.get('c', 'k'))?.value).toBe(1);
  });

  it('refuses a database whose schema is newer than this chartd knows, saying what to do', async () => {
    const database = await stores.freshDatabase();
    await (await stores.open(database)).close();
    await server().psql(database, "INSERT INTO chartd.schema_version (version, what) VALUES (99, 'from the future')");
    await expect(stores.open(database)).rejects.toThrow(/schema version 99, and this chartd knows versions up to 1: run the newer chartd/);
  });

  it('fails to open, promptly and without the password, where no PostgreSQL listens', async () => {
    const started = Date.now();
    const error = await PostgresStore.open(readPostgresUrl(`postgres://u:hunter2@127.0.0.1:${await freePort()}/x`)).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(StoreUnavailable);
    expect((error as Error).message).toMatch(/^cannot open the store in PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:\d+\/x: .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('PostgreSQL store: documents', () => {
  it('creates at revision 1, counts each write, deletes, and starts again at 1', async () => {
    const store = await openFresh();
    expect(await store.get('instances', 'a')).toBeUndefined();
    await store.commit([{ collection: 'instances', key: 'a', value: { state: 'red' } }, { collection: 'charts', key: 'a', value: 1 }]);
    expect(await store.get('instances', 'a')).toEqual({ key: 'a', value: { state: 'red' }, revision: 1 });
    await store.commit([{ collection: 'instances', key: 'a', value: { state: 'green' } }]);
    expect(await store.get('instances', 'a')).toEqual({ key: 'a', value: { state: 'green' }, revision: 2 });
    await store.commit([{ collection: 'instances', key: 'a', value: null }]);
    expect(await store.get('instances', 'a')).toBeUndefined();
    expect((await store.get('charts', 'a'))?.value).toBe(1);
    await store.commit([{ collection: 'instances', key: 'a', value: 'again', expect: 0 }]);
    expect(await store.get('instances', 'a')).toEqual({ key: 'a', value: 'again', revision: 1 });
    await store.commit([{ collection: 'instances', key: 'missing', value: null }]);
    expect(await store.count('instances')).toBe(1);
  });

  it('reads several documents in one go, by key, leaving out those absent and those of other collections', async () => {
    const store = await openFresh();
    await store.commit([{ collection: 'c', key: 'a', value: 1 }, { collection: 'c', key: 'b', value: { n: 2 } }, { collection: 'd', key: 'c', value: 3 }]);
    await store.commit([{ collection: 'c', key: 'b', value: { n: 3 } }]);
    const found = await store.getMany('c', ['b', 'a', 'c', 'absent']);
    expect([...found.entries()].sort()).toEqual([['a', { key: 'a', value: 1, revision: 1 }], ['b', { key: 'b', value: { n: 3 }, revision: 2 }]]);
    expect(await store.getMany('c', [])).toEqual(new Map());
  });

  it('gives values back exactly as written: key order, NUL and other characters, numbers, nesting', async () => {
    const store = await openFresh();
    const value = { zebra: 1, apple: [1.5, -0.25, 1e21, 12345678901234], 'é': { nul: 'a\u0000b', emoji: '🦓', quote: '"\\' }, empty: {}, no: null, yes: true };
    await store.commit([{ collection: 'c', key: 'k/é 🦓', value }]);
    const read = await store.get<typeof value>('c', 'k/é 🦓');
    expect(read?.value).toEqual(value);
    expect(JSON.stringify(read?.value)).toBe(JSON.stringify(value));
  });

  it('counts and pages the keys under a prefix, going on after the last key of the page before', async () => {
    const store = await openFresh();
    const keys = ['gates/a', 'gates/b', 'gates/c', 'gates/d', 'gates/e', 'gates-2/a', 'gate/x', 'h/a'];
    await store.commit(keys.map((key) => ({ collection: 'i', key, value: { key, odd: 'ace'.includes(key.at(-1)!) } })));
    expect(await store.count('i')).toBe(8);
    expect(await store.count('i', 'gates/')).toBe(5);
    expect(await store.count('i', 'nothing/')).toBe(0);
    expect(await store.count('none')).toBe(0);
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const page = await store.page<{ key: string }>('i', { prefix: 'gates/', after, limit: 2 });
      pages.push(keysOf(page.documents));
      after = page.next;
    } while (after);
    expect(pages).toEqual([['gates/a', 'gates/b'], ['gates/c', 'gates/d'], ['gates/e']]);
    expect(keysOf((await store.page('i', { limit: 100 })).documents)).toEqual(['gate/x', 'gates-2/a', 'gates/a', 'gates/b', 'gates/c', 'gates/d', 'gates/e', 'h/a']);
    expect(await store.page('i', { prefix: 'gates/', limit: 5 })).toMatchObject({ next: undefined });
    expect(keysOf((await store.page('i', { prefix: 'gates/', after: 'a', limit: 1 })).documents)).toEqual(['gates/a']);
  });

  it('pages through what accept takes, reading past many it skips, with next only when more follow', async () => {
    const store = await openFresh();
    const keys = Array.from({ length: 1000 }, (_, at) => `k${String(at).padStart(4, '0')}`);
    await store.commit(keys.map((key, at) => ({ collection: 'i', key, value: { wanted: at % 300 === 7 } })));
    const accept = (value: { wanted: boolean }) => value.wanted;
    const first = await store.page('i', { limit: 2, accept });
    expect(keysOf(first.documents)).toEqual(['k0007', 'k0307']);
    expect(first.next).toBe('k0307');
    const second = await store.page('i', { after: first.next, limit: 2, accept });
    expect(keysOf(second.documents)).toEqual(['k0607', 'k0907']);
    expect(second.next).toBeUndefined();
  });

  it('lists the collections holding documents, sorted; one emptied is listed no more', async () => {
    const store = await openFresh();
    expect(await store.collections()).toEqual([]);
    await store.commit([{ collection: 'instances', key: 'a', value: 1 }, { collection: 'history', key: 'a/1', value: 1 }, { collection: 'alerts', key: 'x', value: 1 }]);
    await store.commit(Array.from({ length: 50 }, (_, at) => ({ collection: 'history', key: `a/${at + 2}`, value: at })));
    await store.commit([{ collection: 'alerts', key: 'x', value: null }]);
    expect(await store.collections()).toEqual(['history', 'instances']);
  });

  it('takes LIKE wildcards in a prefix literally, and sorts keys by code point', async () => {
    const store = await openFresh();
    const keys = ['a%b/1', 'a_b/1', 'axb/1', 'a\\b/1', 'B', 'a', 'é', 'Z'];
    await store.commit(keys.map((key) => ({ collection: 'c', key, value: key })));
    expect(keysOf((await store.page('c', { prefix: 'a%', limit: 10 })).documents)).toEqual(['a%b/1']);
    expect(keysOf((await store.page('c', { prefix: 'a_', limit: 10 })).documents)).toEqual(['a_b/1']);
    expect(keysOf((await store.page('c', { prefix: 'a\\', limit: 10 })).documents)).toEqual(['a\\b/1']);
    expect(await store.count('c', 'a')).toBe(5);
    expect(keysOf((await store.page('c', { limit: 10 })).documents)).toEqual([...keys].sort());
  });

  it('refuses what no store can keep, before anything is written', async () => {
    const store = await openFresh();
    await expect(store.commit([{ collection: 'c', key: 'a\u0000b', value: 1 }])).rejects.toThrow(TypeError);
    await expect(store.commit([{ collection: 'c', key: 'half \ud800', value: 1 }])).rejects.toThrow(/whole characters/);
    await store.commit([{ collection: 'c', key: 'whole \ud83e\udd93', value: 'half \ud800 in a value is kept' }]);
    expect((await store.get('c', 'whole 🦓'))?.value).toBe('half \ud800 in a value is kept');
    await store.commit([{ collection: 'c', key: 'whole 🦓', value: null }]);
    await expect(store.commit([{ collection: 'c', key: 'k', value: undefined }])).rejects.toThrow(/not JSON data/);
    await expect(store.commit([{ collection: 'c', key: 'k', value: { at: new Date(0) } }])).rejects.toThrow(/not plain JSON/);
    await expect(store.commit([{ collection: 'c', key: 'k', value: 1, expect: -1 }])).rejects.toThrow(/expected revision/);
    expect(await store.count('c')).toBe(0);
  });

  it('freezes committed values under CHARTD_STORE_CHECKS, so a change after commit throws', async () => {
    const store = await openFresh();
    const value = { nested: { n: 1 } };
    await store.commit([{ collection: 'c', key: 'k', value }]);
    expect(() => {
      value.nested.n = 2;
    }).toThrow(TypeError);
  });
});

describe('PostgreSQL store: conflicts and group commit', () => {
  it('applies nothing of a commit whose expectation fails, and names each key that differed', async () => {
    const store = await openFresh();
    await store.commit([{ collection: 'c', key: 'a', value: 1 }, { collection: 'c', key: 'b', value: 1 }]);
    const failed = await outcome(store.commit([
      { collection: 'c', key: 'a', value: 2, expect: 1 },
      { collection: 'c', key: 'b', value: 2, expect: 5 },
      { collection: 'c', key: 'new', value: 2, expect: 0 },
      { collection: 'c', key: 'gone', value: 2, expect: 3 },
    ]));
    expect(failed.ok).toBe(false);
    const conflict = (failed as { error: unknown }).error as WriteConflict;
    expect(conflict).toBeInstanceOf(WriteConflict);
    expect(conflict.keys).toEqual([{ collection: 'c', key: 'b' }, { collection: 'c', key: 'gone' }]);
    expect(conflict.message).toContain('c/b, c/gone');
    expect((await store.page('c', { limit: 10 })).documents).toEqual([{ key: 'a', value: 1, revision: 1 }, { key: 'b', value: 1, revision: 1 }]);
    await expect(store.commit([{ collection: 'c', key: 'a', value: 3, expect: 0 }])).rejects.toThrow(WriteConflict);
  });

  it('commits concurrent calls together; a conflicting one fails alone, and one built on it after it', async () => {
    const store = await openFresh();
    await store.commit([{ collection: 'c', key: 'shared', value: 0 }]);
    const calls = Array.from({ length: 40 }, (_, at) => store.commit([{ collection: 'c', key: `own/${at}`, value: at, expect: 0 }]));
    const wrong = store.commit([{ collection: 'c', key: 'shared', value: 'wrong', expect: 7 }]);
    const first = store.commit([{ collection: 'c', key: 'shared', value: 1, expect: 1 }]);
    const builtOnFirst = store.commit([{ collection: 'c', key: 'shared', value: 2, expect: 2 }]);
    const builtOnWrong = store.commit([{ collection: 'c', key: 'shared', value: 'also wrong', expect: 2 }]);
    const results = await Promise.all([...calls, wrong, first, builtOnFirst, builtOnWrong].map(outcome));
    expect(results.slice(0, 40).every((result) => result.ok)).toBe(true);
    expect(results.slice(40).map((result) => result.ok)).toEqual([false, true, true, false]);
    expect(await store.get('c', 'shared')).toEqual({ key: 'shared', value: 2, revision: 3 });
    expect(await store.count('c', 'own/')).toBe(40);
    // The 44 calls made at once go in one or two transactions (the first may go alone), after the one before.
    expect(store.stats().commits).toBe(45);
    expect(store.stats().groups).toBeLessThanOrEqual(3);
  });

  it('a group PostgreSQL refuses is committed member by member, so only the culprit fails', async () => {
    const store = await openFresh();
    // A key too long for the primary key's index (about 2.7 kB): PostgreSQL refuses the row.
    const tooLong = randomBytes(6000).toString('base64');
    const calls = Array.from({ length: 10 }, (_, at) => store.commit([{ collection: 'c', key: at === 4 ? tooLong : `k${at}`, value: at }]));
    const results = await Promise.all(calls.map(outcome));
    expect(results.map((result) => result.ok)).toEqual([true, true, true, true, false, true, true, true, true, true]);
    expect(await store.count('c')).toBe(9);
  });
});

describe('PostgreSQL store: claims and leases', () => {
  const T = Date.UTC(2026, 10, 22, 6, 0, 0);

  it('claims due, unleased documents soonest first, each with a new epoch; a write ends the lease', async () => {
    const store = await openFresh();
    await store.commit([
      { collection: 'effects', key: 'later', value: { due: T + 500 } },
      { collection: 'effects', key: 'due-2', value: { due: T - 10 } },
      { collection: 'effects', key: 'due-1', value: { due: T - 20 } },
      { collection: 'effects', key: 'undated', value: { run: 'x' } },
      { collection: 'other', key: 'due', value: { due: T - 20 } },
    ]);
    const claimed = await store.claim<{ due: number }>('effects', { owner: 'a', now: T, leaseMs: 1000, limit: 10 });
    expect(claimed.map((document) => document.key)).toEqual(['due-1', 'due-2']);
    expect(claimed[0]).toMatchObject({ value: { due: T - 20 }, revision: 1, lease: { owner: 'a' } });
    expect(claimed[1]!.lease.epoch).toBeGreaterThan(claimed[0]!.lease.epoch);
    expect(await store.claim('effects', { owner: 'b', now: T + 499, leaseMs: 1000, limit: 10 })).toEqual([]);
    // due-2 is rescheduled by a write, which ends a's lease on it: it is due again at its new time.
    await store.commit([{ collection: 'effects', key: 'due-2', value: { due: T + 100 } }], { fence: { collection: 'effects', key: 'due-2', lease: claimed[1]!.lease } });
    await expect(store.commit([], { fence: { collection: 'effects', key: 'due-2', lease: claimed[1]!.lease } })).rejects.toThrow(WriteConflict);
    const next = await store.claim('effects', { owner: 'b', now: T + 600, leaseMs: 1000, limit: 1 });
    expect(next.map((document) => document.key)).toEqual(['due-2']);
    expect(next[0]!.lease.epoch).toBeGreaterThan(claimed[1]!.lease.epoch);
  });

  it('renews only the leases the owner still holds', async () => {
    const store = await openFresh();
    await store.commit(['x', 'y'].map((key) => ({ collection: 'effects', key, value: { due: T } })));
    await store.claim('effects', { owner: 'a', now: T, leaseMs: 1000, limit: 1 });
    await store.claim('effects', { owner: 'b', now: T, leaseMs: 1000, limit: 1 });
    expect(await store.renew('effects', ['x', 'y', 'absent'], { owner: 'a', until: T + 5000 })).toEqual(['x']);
    expect(await store.claim('effects', { owner: 'c', now: T + 2000, leaseMs: 1000, limit: 10 })).toMatchObject([{ key: 'y' }]);
    expect(await store.renew('effects', [], { owner: 'a', until: T + 5000 })).toEqual([]);
  });
});

describe('PostgreSQL store: change feed and life cycle', () => {
  it('tells its own listeners of its own commits, and another replica of them in notifications split under the size limit', async () => {
    const [store, other] = await stores.replicas(2);
    const heard: Change[] = [];
    const elsewhere: Change[] = [];
    const stop = store!.onChange((changes) => heard.push(...changes));
    other!.onChange((changes) => elsewhere.push(...changes));
    await store!.commit([{ collection: 'c', key: 'one', value: 1 }]);
    expect(heard).toEqual([{ collection: 'c', key: 'one', committed: { key: 'one', value: 1, revision: 1 } }]);
    const many = Array.from({ length: 2000 }, (_, at) => ({ collection: 'bulk', key: `a-rather-long-key-name/${at}`, value: at }));
    await store!.commit(many);
    expect(heard).toHaveLength(2001);
    await until(() => elsewhere.length === 2001, 'every key of the big commit on the other replica');
    expect(new Set(elsewhere.slice(1).map((change) => change.key)).size).toBe(2000);
    stop();
    const later: Change[] = [];
    store!.onChange((changes) => later.push(...changes));
    await store!.commit([{ collection: 'c', key: 'two', value: 2 }]);
    expect(later).toHaveLength(1);
    expect(heard).toHaveLength(2001);
  });

  it('is healthy while PostgreSQL answers, and refuses commits once closed', async () => {
    const store = await openFresh();
    expect(store.health()).toEqual({ ok: true });
    const pending = store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.close();
    await pending;
    await expect(store.commit([{ collection: 'c', key: 'k', value: 2 }])).rejects.toThrow(/is closed/);
  });
});
