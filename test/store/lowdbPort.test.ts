// The embedded store on the port: revisions that survive restarts, expectations, fences, claims and leases, changes.
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { StoreError, WriteConflict, type Change } from '../../src/store/port.js';
import { holdWrites, releaseHeldWrites, track } from '../support/journalWrites.js';
import { until } from '../support/wait.js';
import { copyAsCrashed, makeTempDir, openLogged, removeTempDirs, valueOf } from './helpers.js';

const BEFORE_REVISIONS = fileURLToPath(new URL('../fixtures/store-before-revisions', import.meta.url));

afterEach(async () => {
  releaseHeldWrites();
  await removeTempDirs();
});

const revisionOf = async (store: Awaited<ReturnType<typeof openLowdbStore>>, key: string): Promise<number | undefined> => (await store.get('c', key))?.revision;

describe('lowdb store on the port: revisions', () => {
  it('reads several documents in one go, by key, leaving out those absent', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([{ collection: 'c', key: 'a', value: 1 }, { collection: 'c', key: 'b', value: 2 }, { collection: 'd', key: 'c', value: 3 }]);
    const found = await store.getMany('c', ['b', 'c', 'absent']);
    expect([...found.entries()]).toEqual([['b', { key: 'b', value: 2, revision: 1 }]]);
    await store.close();
  });

  it('gives 1 on creation and one more per write, starts again at 1 after a deletion, and keeps them across a crash and a checkpoint', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'a', value: 1 }, { collection: 'c', key: 'b', value: 1 }]);
    await store.commit([{ collection: 'c', key: 'a', value: 2 }]);
    await store.commit([{ collection: 'c', key: 'a', value: 3 }, { collection: 'c', key: 'b', value: null }]);
    await store.commit([{ collection: 'c', key: 'b', value: 'again' }]);
    expect(await store.get('c', 'a')).toEqual({ key: 'a', value: 3, revision: 3 });
    expect(await revisionOf(store, 'b')).toBe(1);
    // Replayed from the journal alone.
    const crashed = await copyAsCrashed(dir);
    const replayed = await openLowdbStore(crashed);
    expect([await revisionOf(replayed, 'a'), await revisionOf(replayed, 'b')]).toEqual([3, 1]);
    await replayed.commit([{ collection: 'c', key: 'a', value: 4 }]);
    await replayed.checkpoint();
    await replayed.commit([{ collection: 'c', key: 'a', value: 5 }]);
    // From a checkpoint, then the journal after it.
    const checkpointed = await openLowdbStore(await copyAsCrashed(crashed));
    expect(await checkpointed.get('c', 'a')).toEqual({ key: 'a', value: 5, revision: 5 });
    await Promise.all([store.close(), replayed.close(), checkpointed.close()]);
    // From the shards alone, after a clean close.
    const closed = await openLowdbStore(crashed);
    expect(await revisionOf(closed, 'a')).toBe(5);
    await closed.close();
  });

  it('reads a data directory written before revisions existed: every document there has revision 1, and writes count on from it', async () => {
    const dir = await makeTempDir();
    await cp(BEFORE_REVISIONS, dir, { recursive: true });
    const { store, logs } = await openLogged(dir);
    // gates/a was checkpointed (no revision there: 1), then written once more in the journal.
    expect(await store.get('instances', 'gates/a')).toEqual({ key: 'gates/a', value: { n: 3 }, revision: 2 });
    expect(await store.get('instances', 'gates/c')).toEqual({ key: 'gates/c', value: { n: 1 }, revision: 1 });
    expect(await store.get('instances', 'gates/b')).toBeUndefined();
    await store.commit([{ collection: 'instances', key: 'gates/a', value: { n: 4 }, expect: 2 }]);
    await store.close();
    const again = await openLowdbStore(dir);
    expect(await again.get('instances', 'gates/a')).toEqual({ key: 'gates/a', value: { n: 4 }, revision: 3 });
    await again.close();
    expect(logs.filter((line) => line.level === 'warn')).toEqual([]);
  });
});

describe('lowdb store on the port: collections', () => {
  it('lists the collections holding documents, sorted, across a restart; one emptied is listed no more', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    expect(await store.collections()).toEqual([]);
    await store.commit([{ collection: 'instances', key: 'a', value: 1 }, { collection: 'history', key: 'a/1', value: 1 }, { collection: 'alerts', key: 'x', value: 1 }]);
    await store.commit([{ collection: 'alerts', key: 'x', value: null }, { collection: 'never', key: 'y', value: null }]);
    expect(await store.collections()).toEqual(['history', 'instances']);
    const replayed = await openLowdbStore(await copyAsCrashed(dir));
    expect(await replayed.collections()).toEqual(['history', 'instances']);
    await Promise.all([store.close(), replayed.close()]);
  });
});

describe('lowdb store on the port: expectations and fences', () => {
  it('applies nothing of a commit whose expectation fails, naming every key that differed', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([{ collection: 'c', key: 'a', value: 1, expect: 0 }]);
    const refused = store.commit([
      { collection: 'c', key: 'a', value: 2, expect: 2 },
      { collection: 'c', key: 'fresh', value: 1 },
      { collection: 'c', key: 'b', value: 1, expect: 1 },
    ]);
    await expect(refused).rejects.toBeInstanceOf(WriteConflict);
    await expect(refused).rejects.toMatchObject({ keys: [{ collection: 'c', key: 'a' }, { collection: 'c', key: 'b' }] });
    expect([await valueOf(store, 'c', 'a'), await valueOf(store, 'c', 'fresh')]).toEqual([1, undefined]);
    await expect(store.commit([{ collection: 'c', key: 'a', value: 2, expect: 0 }])).rejects.toBeInstanceOf(WriteConflict);
    // A commit's later write sees its earlier ones.
    await store.commit([{ collection: 'c', key: 'a', value: 2, expect: 1 }, { collection: 'c', key: 'a', value: null, expect: 2 }, { collection: 'c', key: 'a', value: 3, expect: 0 }]);
    expect(await store.get('c', 'a')).toEqual({ key: 'a', value: 3, revision: 1 });
    await store.close();
  });

  it('takes a commit built on one still on its way to disk, and refuses it with WriteConflict when that one fails', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    const held = holdWrites('doomed');
    const doomed = track(store.commit([{ collection: 'c', key: 'k', value: 'doomed', expect: 1 }]));
    await until(() => held.length === 1);
    // Built on the doomed commit, which will give revision 2; and one beside it that builds on nothing pending.
    const builtOn = store.commit([{ collection: 'c', key: 'k', value: 'next', expect: 2 }]);
    const beside = store.commit([{ collection: 'c', key: 'other', value: 1, expect: 0 }]);
    await expect(store.commit([{ collection: 'c', key: 'k', value: 'stale', expect: 1 }])).rejects.toBeInstanceOf(WriteConflict);
    held[0]!.fail(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    expect(((await doomed.outcome) as PromiseRejectedResult).reason).toBeInstanceOf(StoreError);
    await expect(builtOn).rejects.toMatchObject({ name: 'WriteConflict', keys: [{ collection: 'c', key: 'k' }] });
    // Not built on the failed one, yet refused with it: the disk failed under it, and nothing says it may go again.
    await expect(beside).rejects.toBeInstanceOf(StoreError);
    expect(await store.get('c', 'k')).toEqual({ key: 'k', value: 1, revision: 1 });
    // Rebuilt from what is stored, it goes through.
    await store.commit([{ collection: 'c', key: 'k', value: 'next', expect: 1 }]);
    expect(await revisionOf(store, 'k')).toBe(2);
    await store.close();
  });

  it('commits fenced by a lease only while that claim holds it', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([{ collection: 'work', key: 'w', value: { due: 10 } }]);
    const [first] = await store.claim('work', { owner: 'a', now: 10, leaseMs: 100, limit: 5 });
    // The lease ran out and b claimed it: a's fence no longer holds.
    const [second] = await store.claim('work', { owner: 'b', now: 200, leaseMs: 100, limit: 5 });
    expect(second!.lease.epoch).toBeGreaterThan(first!.lease.epoch);
    const fenceOf = (lease: { owner: string; epoch: number }) => ({ fence: { collection: 'work', key: 'w', lease } });
    await expect(store.commit([{ collection: 'done', key: 'w', value: 'a' }], fenceOf(first!.lease))).rejects.toMatchObject({ name: 'WriteConflict', keys: [{ collection: 'work', key: 'w' }] });
    expect(await store.renew('work', ['w'], { owner: 'a', until: 1000 })).toEqual([]);
    await store.commit([{ collection: 'done', key: 'w', value: 'b' }, { collection: 'work', key: 'w', value: null }], fenceOf(second!.lease));
    expect(await valueOf(store, 'done', 'w')).toBe('b');
    // Writing the document ended the lease: the same fence holds no more.
    await expect(store.commit([{ collection: 'done', key: 'w', value: 'again' }], fenceOf(second!.lease))).rejects.toBeInstanceOf(WriteConflict);
    await store.close();
  });
});

describe('lowdb store on the port: claims', () => {
  it('claims due documents soonest first, each once until its lease runs out, and renews what the owner holds', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([
      { collection: 'work', key: 'late', value: { due: 30 } },
      { collection: 'work', key: 'soon', value: { due: 10 } },
      { collection: 'work', key: 'later', value: { due: 500 } },
      { collection: 'work', key: 'plain', value: { note: 'no due' } },
      { collection: 'work', key: 'also-soon', value: { due: 10 } },
    ]);
    const claimed = await store.claim('work', { owner: 'a', now: 100, leaseMs: 50, limit: 2 });
    expect(claimed.map(({ key, value, revision }) => ({ key, value, revision }))).toEqual([
      { key: 'also-soon', value: { due: 10 }, revision: 1 },
      { key: 'soon', value: { due: 10 }, revision: 1 },
    ]);
    expect(claimed[1]!.lease.epoch).toBeGreaterThan(claimed[0]!.lease.epoch);
    expect((await store.claim('work', { owner: 'b', now: 100, leaseMs: 50, limit: 10 })).map(({ key }) => key)).toEqual(['late']);
    expect(await store.claim('work', { owner: 'b', now: 120, leaseMs: 50, limit: 10 })).toEqual([]);
    expect(await store.renew('work', ['soon', 'late', 'nothing'], { owner: 'a', until: 400 })).toEqual(['soon']);
    // At 160 a's lease on also-soon and b's on late ran out; soon was renewed.
    expect((await store.claim('work', { owner: 'c', now: 160, leaseMs: 50, limit: 10 })).map(({ key }) => key)).toEqual(['also-soon', 'late']);
    await store.close();
  });

  it('leaves out a document whose write is on its way to disk', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([{ collection: 'work', key: 'w', value: { due: 1 } }]);
    const held = holdWrites('"w"');
    const writing = store.commit([{ collection: 'work', key: 'w', value: { due: 2 } }]);
    await until(() => held.length === 1);
    expect(await store.claim('work', { owner: 'a', now: 10, leaseMs: 50, limit: 10 })).toEqual([]);
    held[0]!.release();
    await writing;
    expect((await store.claim('work', { owner: 'a', now: 10, leaseMs: 50, limit: 10 })).map(({ value }) => value)).toEqual([{ due: 2 }]);
    await store.close();
  });
});

describe('lowdb store on the port: changes', () => {
  it('tells listeners of each commit once it is readable, and stops when told', async () => {
    const store = await openLowdbStore(await makeTempDir());
    const heard: (readonly Change[])[] = [];
    const seen: unknown[] = [];
    const stop = store.onChange((changes) => {
      heard.push(changes);
      void store.get('c', 'a').then((stored) => seen.push(stored?.value));
    });
    await store.commit([{ collection: 'c', key: 'a', value: 1 }, { collection: 'd', key: 'b', value: null }]);
    await until(() => seen.length === 1);
    expect(heard).toEqual([[{ collection: 'c', key: 'a' }, { collection: 'd', key: 'b' }]]);
    expect(seen).toEqual([1]);
    stop();
    await store.commit([{ collection: 'c', key: 'a', value: 2 }]);
    expect(heard).toHaveLength(1);
    await store.close();
  });
});
