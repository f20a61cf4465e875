// StoreFollower on two PostgreSQL replicas: every change followed, its own commits from what they left, the others read back.

import { describe, expect, it } from 'vitest';
import { StoreFollower } from '../../src/runtime/storeFollower.js';
import type { Store } from '../../src/store/port.js';
import { postgresForFile } from '../store/postgresStores.js';
import { until } from '../support/wait.js';

const { stores } = postgresForFile();

/** A follower of collection `items` on `store`: what it keeps, and the reads it asked the store for. */
function following(store: Store): { kept: Map<string, unknown>; seen: string[] } {
  const kept = new Map<string, unknown>();
  const seen: string[] = [];
  const follower = new StoreFollower(store, (problem) => {
    throw new Error(problem);
  });
  follower.follow('items', async (key, read) => {
    const stored = await read();
    seen.push(`${key}@${stored?.revision ?? 'gone'}`);
    if (stored) kept.set(key, stored.value);
    else kept.delete(key);
  }, async () => {});
  follower.start();
  return { kept, seen };
}

describe('StoreFollower', () => {
  it('follows a commit of several documents on both replicas, and every later change to its last value', async () => {
    const [a, b] = await stores.replicas(2);
    const onA = following(a!);
    const onB = following(b!);
    await a!.commit(['x', 'y', 'z'].map((key) => ({ collection: 'items', key, value: { key } })));
    // The committing replica follows its own commit as it lands, before commit() resolves.
    expect(onA.seen).toEqual(['x@1', 'y@1', 'z@1']);
    await until(() => onB.kept.size === 3, 'the other replica following the commit');
    expect([...onB.kept.entries()].sort()).toEqual([['x', { key: 'x' }], ['y', { key: 'y' }], ['z', { key: 'z' }]]);
    for (let n = 1; n <= 20; n += 1) await (n % 2 ? b! : a!).commit([{ collection: 'items', key: 'x', value: { n } }]);
    await a!.commit([{ collection: 'items', key: 'y', value: null }]);
    await until(() => !onB.kept.has('y') && (onB.kept.get('x') as { n?: number }).n === 20, 'the other replica catching up');
    await until(() => !onA.kept.has('y') && (onA.kept.get('x') as { n?: number }).n === 20, 'this replica catching up');
    expect(onB.kept).toEqual(onA.kept);
  });
});
