// Several journal writes in flight at once: answers in sequence order, and a failure takes everything behind it.
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/store.js';
import { holdWrites, releaseHeldWrites, track } from '../support/journalWrites.js';
import { sleep, until } from '../support/wait.js';
import { copyAsCrashed, journalFiles, journalText, makeTempDir, openLogged, removeTempDirs, valueOf, valuesOf } from './helpers.js';

afterEach(async () => {
  releaseHeldWrites();
  await removeTempDirs();
});

describe('lowdb store: journal writes in flight together', () => {
  it('answers in sequence order: a batch whose write lands first waits for the batch before it', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    const held = holdWrites('slow');
    const first = track(store.commit([{ collection: 'c', key: 'slow', value: 1 }]));
    await store.whenIssued();
    const second = track(store.commit([{ collection: 'c', key: 'quick', value: 2 }]));
    await store.whenIssued();
    // The second write has landed on disk; its caller still waits, and readers do not see it yet.
    await until(() => store.stats().journalSyncs === 2);
    await sleep(20);
    expect([first.settled(), second.settled()]).toEqual([false, false]);
    expect(await valueOf(store, 'c', 'quick')).toBeUndefined();

    held[0]!.release();
    expect((await first.outcome).status).toBe('fulfilled');
    expect((await second.outcome).status).toBe('fulfilled');
    expect([await valueOf(store, 'c', 'slow'), await valueOf(store, 'c', 'quick')]).toEqual([1, 2]);

    // The second record says the first was still on its way to disk when it was written.
    const records = (await journalText((await journalFiles(dir))[0]!)).trimEnd().split('\n').slice(1);
    expect(records.map((line) => JSON.parse(line.slice(9)) as { seq: number; pending: number })).toMatchObject([
      { seq: 1, pending: 1 },
      { seq: 2, pending: 1 },
    ]);
    await store.close();
  });

  it('fails a batch whose write fails, every batch issued behind it and every commit made meanwhile, then carries on', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    await store.commit([{ collection: 'c', key: 'before', value: 0 }]);
    const held = holdWrites('doomed');
    const doomed = track(store.commit([{ collection: 'c', key: 'doomed', value: 1 }]));
    await store.whenIssued();
    // Issued while the doomed write is in flight: their writes land, but they may be built on it.
    const behind = [track(store.commit([{ collection: 'c', key: 'behind-1', value: 2 }]))];
    await store.whenIssued();
    behind.push(track(store.commit([{ collection: 'c', key: 'behind-2', value: 3 }])));
    await store.whenIssued();
    // Three writes are in flight, so this one queues.
    const queued = track(store.commit([{ collection: 'c', key: 'queued', value: 4 }]));
    await until(() => store.stats().journalSyncs === 4);

    held[0]!.fail(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    for (const commit of [doomed, ...behind, queued]) {
      const outcome = await commit.outcome;
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(StoreError);
      expect(reason.message).toMatch(/could not make 4 commit\(s\) durable in .*\.log \(EIO: i\/o error, write\); none of them was applied/);
    }
    expect(await valuesOf(store, 'c')).toEqual([0]);
    expect(store.stats().lastSeq).toBe(1);
    // Cut back to where the failed write began: the records that did land are gone too.
    const journal = (await journalFiles(dir))[0]!;
    expect((await journalText(journal)).trimEnd().split('\n')).toHaveLength(2);

    await store.commit([{ collection: 'c', key: 'after', value: 5 }]);
    expect(store.stats().lastSeq).toBe(2);
    const crashed = await copyAsCrashed(dir);
    await store.close();
    const { store: again, logs } = await openLogged(crashed);
    expect(await valuesOf(again, 'c')).toEqual([5, 0]);
    expect(logs.filter((line) => line.level === 'warn')).toEqual([]);
    await again.close();
  });

  it('has whenIssued() resolve at once when nothing is waiting to be written', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    await store.whenIssued();
    const commit = store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.whenIssued();
    expect(store.stats().journalSyncs).toBe(1);
    await commit;
    await store.close();
  });
});
