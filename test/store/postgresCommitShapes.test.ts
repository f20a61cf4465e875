// The commit's statement, one per shape of group (updates, inserts, deletes): each shape and the edges of each.

import { describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgresStore.js';
import { WriteConflict, type Write } from '../../src/store/port.js';
import { outcome, postgresForFile } from './postgresStores.js';

const { stores } = postgresForFile();

async function openFresh(): Promise<PostgresStore> {
  return stores.open(await stores.freshDatabase());
}

/** Every document of collection `c`, as key → [value, revision]. */
async function contents(store: PostgresStore): Promise<Record<string, [unknown, number]>> {
  const { documents } = await store.page('c', { limit: 10_000 });
  return Object.fromEntries(documents.map(({ key, value, revision }) => [key, [value, revision]]));
}

describe('PostgreSQL store: the shapes of a group commit', () => {
  it('commits groups of each shape: updates alone, inserts alone, deletes alone, and all three with one member failing', async () => {
    const store = await openFresh();
    await store.commit(['a', 'b', 'c', 'd'].map((key) => ({ collection: 'c', key, value: `${key}1` })));
    await store.commit([{ collection: 'c', key: 'a', value: 'a2', expect: 1 }, { collection: 'c', key: 'b', value: 'b2' }]);
    await store.commit([{ collection: 'c', key: 'c', value: null, expect: 1 }]);
    const group = await Promise.all([
      store.commit([{ collection: 'c', key: 'a', value: 'a3', expect: 2 }]),
      store.commit([{ collection: 'c', key: 'new', value: 'n1', expect: 0 }]),
      store.commit([{ collection: 'c', key: 'd', value: 'wrong', expect: 9 }, { collection: 'c', key: 'other', value: 'wrong' }]),
      store.commit([{ collection: 'c', key: 'b', value: null }]),
      store.commit([{ collection: 'c', key: 'd', value: 'd2', expect: 1 }]),
    ].map(outcome));
    expect(group.map((result) => result.ok)).toEqual([true, true, false, true, true]);
    expect(((group[2] as { error: unknown }).error as WriteConflict).keys).toEqual([{ collection: 'c', key: 'd' }]);
    expect(await contents(store)).toEqual({ a: ['a3', 3], d: ['d2', 2], new: ['n1', 1] });
  });

  it('deletes and creates a document again in one group, and in one commit, starting it again at revision 1', async () => {
    const store = await openFresh();
    await store.commit([{ collection: 'c', key: 'x', value: 'x1' }, { collection: 'c', key: 'y', value: 'y1' }, { collection: 'c', key: 'y', value: 'y2' }]);
    const [removed, created, updated] = await Promise.all([
      store.commit([{ collection: 'c', key: 'x', value: null, expect: 1 }]),
      store.commit([{ collection: 'c', key: 'x', value: 'again', expect: 0 }]),
      store.commit([{ collection: 'c', key: 'x', value: 'again2', expect: 1 }]),
    ].map(outcome));
    expect([removed!.ok, created!.ok, updated!.ok]).toEqual([true, true, true]);
    await store.commit([{ collection: 'c', key: 'y', value: null, expect: 2 }, { collection: 'c', key: 'y', value: 'y-new', expect: 0 }]);
    expect(await contents(store)).toEqual({ x: ['again2', 2], y: ['y-new', 1] });
    // Created and deleted within one group: nothing stays, and nothing was there to delete.
    await Promise.all([store.commit([{ collection: 'c', key: 'z', value: 'z1', expect: 0 }]), store.commit([{ collection: 'c', key: 'z', value: null, expect: 1 }])]);
    expect(await store.get('c', 'z')).toBeUndefined();
  });

  it('refuses a fenced commit whose lease was lost, alone in its group, and takes the new holder\'s', async () => {
    const store = await openFresh();
    const T = Date.UTC(2026, 0, 1);
    await store.commit([{ collection: 'effects', key: 'step', value: { due: T } }]);
    const [old] = await store.claim('effects', { owner: 'old', now: T, leaseMs: 1000, limit: 1 });
    const [taken] = await store.claim('effects', { owner: 'new', now: T + 2000, leaseMs: 1000, limit: 1 });
    const results = await Promise.all([
      store.commit([{ collection: 'c', key: 'outcome', value: 'old' }, { collection: 'effects', key: 'step', value: null }], { fence: { collection: 'effects', key: 'step', lease: old!.lease } }),
      store.commit([{ collection: 'c', key: 'bystander', value: 1 }]),
      store.commit([{ collection: 'c', key: 'outcome', value: 'new' }, { collection: 'effects', key: 'step', value: null }], { fence: { collection: 'effects', key: 'step', lease: taken!.lease } }),
    ].map(outcome));
    expect(results.map((result) => result.ok)).toEqual([false, true, true]);
    expect(((results[0] as { error: unknown }).error as WriteConflict).keys).toEqual([{ collection: 'effects', key: 'step' }]);
    expect(await contents(store)).toEqual({ bystander: [1, 1], outcome: ['new', 1] });
    expect(await store.get('effects', 'step')).toBeUndefined();
  });

  it('commits a document of 8 MB and reads it back exactly', async () => {
    const store = await openFresh();
    const value = { text: 'ü€'.repeat(1_400_000), list: Array.from({ length: 50_000 }, (_, at) => at) };
    await store.commit([{ collection: 'c', key: 'large', value }]);
    await store.commit([{ collection: 'c', key: 'large', value: { ...value, list: [] }, expect: 1 }]);
    expect(await store.get('c', 'large')).toEqual({ key: 'large', value: { ...value, list: [] }, revision: 2 });
  });

  it('commits 5,000 keys in one call beside many small calls, each landing whole', async () => {
    const store = await openFresh();
    const many: Write[] = Array.from({ length: 5_000 }, (_, at) => ({ collection: 'c', key: `many/${String(at).padStart(4, '0')}`, value: { at }, expect: 0 }));
    const small = Array.from({ length: 30 }, (_, at) => store.commit([{ collection: 'c', key: `small/${at}`, value: at }]));
    await Promise.all([store.commit(many), ...small]);
    expect(await store.count('c', 'many/')).toBe(5_000);
    expect(await store.count('c', 'small/')).toBe(30);
    // Each expected absent: all of them again conflict, every key named, nothing applied.
    const again = await outcome(store.commit(many.map((write) => ({ ...write, value: 'again' }))));
    expect(((again as { error: unknown }).error as WriteConflict).keys).toHaveLength(5_000);
    expect((await store.get('c', 'many/4999'))?.value).toEqual({ at: 4999 });
  });
});
