// GroupRead on PostgreSQL: reads asked while one is under way go together, each sees what landed before it was asked.

import { describe, expect, it } from 'vitest';
import { GroupRead } from '../../src/runtime/groupRead.js';
import type { Store } from '../../src/store/port.js';
import { postgresForFile } from '../store/postgresStores.js';

const { stores } = postgresForFile();

/** `store` as it is, noting each read it is asked for: one key (get) or several (getMany). */
function noting(store: Store): { store: Store; reads: string[][] } {
  const reads: string[][] = [];
  const noted = Object.create(store) as Store;
  noted.get = (collection, key) => {
    reads.push([key]);
    return store.get(collection, key);
  };
  noted.getMany = (collection, keys) => {
    reads.push([...keys]);
    return store.getMany(collection, keys);
  };
  return { store: noted, reads };
}

describe('GroupRead', () => {
  it('reads the keys asked while a read is under way in one getMany, each answered with its own document', async () => {
    const [store] = await stores.replicas(1);
    await store!.commit(['a', 'b', 'c', 'd'].map((key) => ({ collection: 'items', key, value: { key } })));
    const { store: noted, reads } = noting(store!);
    const group = new GroupRead<{ key: string }>(noted, 'items');
    const answers = await Promise.all(['a', 'b', 'missing', 'c', 'b', 'd'].map((key) => group.get(key)));
    expect(answers.map((stored) => stored?.value.key)).toEqual(['a', 'b', undefined, 'c', 'b', 'd']);
    expect(answers.map((stored) => stored?.revision)).toEqual([1, 1, undefined, 1, 1, 1]);
    expect(reads).toEqual([['a'], ['b', 'missing', 'c', 'd']]);
  });

  it('answers a read asked after a commit landed with that commit, though a read before it is still under way', async () => {
    const [store] = await stores.replicas(1);
    await store!.commit([{ collection: 'items', key: 'x', value: { n: 1 } }]);
    const group = new GroupRead<{ n: number }>(store!, 'items');
    const before = group.get('x');
    await store!.commit([{ collection: 'items', key: 'x', value: { n: 2 } }]);
    const after = group.get('x');
    expect((await before)?.value.n).toBeGreaterThanOrEqual(1);
    expect(await after).toMatchObject({ value: { n: 2 }, revision: 2 });
  });

  it('rejects the reads of a group PostgreSQL refused, and reads the next group', async () => {
    const [store] = await stores.replicas(1);
    await store!.commit([{ collection: 'items', key: 'y', value: { n: 1 } }]);
    const group = new GroupRead<{ n: number }>(store!, 'items');
    const first = group.get('y');
    // PostgreSQL's text holds no NUL: the group holding this key fails whole.
    const refused = [group.get('bad\0key'), group.get('y')];
    await expect(first).resolves.toMatchObject({ revision: 1 });
    for (const read of refused) await expect(read).rejects.toThrow();
    await expect(group.get('y')).resolves.toMatchObject({ value: { n: 1 } });
  });
});
