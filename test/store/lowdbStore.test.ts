import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { Shards } from '../../src/store/shards.js';
import { StoreError } from '../../src/store/store.js';
import { until } from '../support/wait.js';
import { copyAsCrashed, journalFiles, journalText, makeTempDir, openLogged, removeTempDirs, shardFiles, valueOf, valuesOf } from './helpers.js';

afterEach(removeTempDirs);

describe('lowdb store: documents', () => {
  it('puts, gets, lists in key order and deletes', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit([
      { collection: 'instances', key: 'b', value: { state: 'green' } },
      { collection: 'instances', key: 'a', value: { state: 'red' } },
      { collection: 'charts', key: 'a', value: 1 },
    ]);
    expect(await valueOf(store, 'instances', 'a')).toEqual({ state: 'red' });
    expect(await valuesOf(store, 'instances')).toEqual([{ state: 'red' }, { state: 'green' }]);
    await store.commit([{ collection: 'instances', key: 'a', value: null }]);
    expect(await valueOf(store, 'instances', 'a')).toBeUndefined();
    expect(await valuesOf(store, 'instances')).toEqual([{ state: 'green' }]);
    expect(await valuesOf(store, 'charts')).toEqual([1]);
    expect(await valuesOf(store, 'nothing')).toEqual([]);
    await store.close();
  });

  it('keeps list() sorted as keys come and go, and hands out a fresh array each time', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.commit(['m', 'c', 'x'].map((key) => ({ collection: 'c', key, value: key })));
    const first = await valuesOf<string>(store, 'c');
    first.reverse();
    await store.commit([{ collection: 'c', key: 'a', value: 'a' }, { collection: 'c', key: 'x', value: null }, { collection: 'c', key: 'n', value: 'n' }]);
    expect(await valuesOf(store, 'c')).toEqual(['a', 'c', 'm', 'n']);
    await store.close();
  });

  it('lists only the keys under a prefix', async () => {
    const store = await openLowdbStore(await makeTempDir());
    const keys = ['gates/default', 'gates/r1', 'gates-2/default', 'gate/x', 'traffic/default'];
    await store.commit(keys.map((key) => ({ collection: 'instances', key, value: key })));
    expect(await valuesOf(store, 'instances', 'gates/')).toEqual(['gates/default', 'gates/r1']);
    expect(await valuesOf(store, 'instances', 'nothing/')).toEqual([]);
    expect(await valuesOf(store, 'instances', 'traffic/')).toEqual(['traffic/default']);
    await store.close();
  });

  it('counts and pages the keys under a prefix, going on after the last key of the page before', async () => {
    const store = await openLowdbStore(await makeTempDir());
    const keys = ['gates/a', 'gates/b', 'gates/c', 'gates/d', 'gates/e', 'gates-2/a', 'gate/x', 'h/a'];
    await store.commit(keys.map((key) => ({ collection: 'i', key, value: { key, odd: 'ace'.includes(key.at(-1)!) } })));
    expect(await store.count('i')).toBe(8);
    expect(await store.count('i', 'gates/')).toBe(5);
    expect(await store.count('i', 'nothing/')).toBe(0);
    expect(await store.count('none')).toBe(0);
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const page = await store.page<{ key: string }>('i', { prefix: 'gates/', limit: 2, ...(after ? { after } : {}) });
      pages.push(page.documents.map((document) => document.key));
      after = page.next;
    } while (after);
    expect(pages).toEqual([['gates/a', 'gates/b'], ['gates/c', 'gates/d'], ['gates/e']]);
    // A full last page says there is no more: no empty page to fetch.
    expect((await store.page('i', { prefix: 'gates/', limit: 5 })).next).toBeUndefined();
    // `after` need not be a key that exists; one before the prefix starts at its first key.
    expect((await store.page<{ key: string }>('i', { prefix: 'gates/', after: 'gates/bb', limit: 9 })).documents.map((d) => d.key)).toEqual(['gates/c', 'gates/d', 'gates/e']);
    expect((await store.page<{ key: string }>('i', { prefix: 'gates/', after: 'a', limit: 1 })).documents.map((d) => d.key)).toEqual(['gates/a']);
    const odd = await store.page<{ key: string; odd: boolean }>('i', { prefix: 'gates/', limit: 2, accept: (document) => document.odd });
    expect(odd.documents.map((d) => d.key)).toEqual(['gates/a', 'gates/c']);
    expect(odd.next).toBe('gates/c');
    expect(await store.page<{ key: string; odd: boolean }>('i', { prefix: 'gates/', after: 'gates/c', limit: 2, accept: (d) => d.odd })).toEqual({ documents: [{ key: 'gates/e', value: { key: 'gates/e', odd: true }, revision: 1 }], next: undefined });
    // The view follows commits: a new key shows up in its place, a deleted one is gone.
    await store.commit([{ collection: 'i', key: 'gates/bb', value: { key: 'gates/bb' } }, { collection: 'i', key: 'gates/a', value: null }]);
    expect((await store.page<{ key: string }>('i', { prefix: 'gates/', limit: 3 })).documents.map((d) => d.key)).toEqual(['gates/b', 'gates/bb', 'gates/c']);
    expect(await store.count('i', 'gates/')).toBe(5);
    await store.close();
  });

  it('stores what JSON round-trips, keys like __proto__ included, and refuses what JSON cannot hold', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([
      { collection: 'c', key: '__proto__', value: { at: '1970-01-01T00:00:00.000Z' } },
      { collection: 'c', key: '../../etc/passwd', value: 'not a path' },
    ]);
    expect(await valueOf(store, 'c', '__proto__')).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    await expect(store.commit([{ collection: 'c', key: 'k', value: undefined }])).rejects.toThrow(/not JSON/);
    await expect(store.commit([{ collection: 'c', key: 'k', value: 1n }])).rejects.toThrow(TypeError);
    await expect(store.commit([{ collection: '', key: 'k', value: 1 }])).rejects.toThrow(/non-empty/);
    await store.close();
    const again = await openLowdbStore(dir);
    expect(await valuesOf(again, 'c')).toEqual(['not a path', { at: '1970-01-01T00:00:00.000Z' }]); // '.' sorts before '_'
    await again.close();
  });

  it('keeps values as given without a parsed copy, and (as the test suite runs it) checks they are plain JSON', async () => {
    expect(process.env['CHARTD_STORE_CHECKS'], 'set by vitest.config.ts').toBe('1');
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    const value = { state: 'open', callers: ['a'], deadline: null };
    await store.commit([{ collection: 'c', key: 'k', value }]);
    expect(await valueOf(store, 'c', 'k')).toBe(value);
    expect(Object.isFrozen(value) && Object.isFrozen(value.callers)).toBe(true);
    for (const bad of [{ at: new Date(0) }, { gone: undefined }, { n: Number.NaN }]) {
      await expect(store.commit([{ collection: 'c', key: 'bad', value: bad }])).rejects.toThrow(/c\/bad is not plain JSON data/);
    }
    expect(await valueOf(store, 'c', 'bad')).toBeUndefined();
    await store.close();
    const again = await openLowdbStore(dir);
    expect(await valueOf(again, 'c', 'k')).toEqual(value);
    await again.close();
  });

  it('keeps everything across close and reopen, with journals folded into shards', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    for (let round = 0; round < 20; round++) {
      await store.commit([{ collection: 'instances', key: `i${round % 7}`, value: { round } }]);
    }
    await store.commit([{ collection: 'instances', key: 'i0', value: null }]);
    await store.close();
    expect(await journalFiles(dir)).toEqual([]);
    expect((await shardFiles(dir)).length).toBeGreaterThan(0);
    const again = await openLowdbStore(dir);
    expect(await valueOf(again, 'instances', 'i0')).toBeUndefined();
    expect(await valueOf(again, 'instances', 'i6')).toEqual({ round: 13 });
    expect(await valuesOf(again, 'instances')).toHaveLength(6);
    await again.close();
  });

  it('rejects commits after close', async () => {
    const store = await openLowdbStore(await makeTempDir());
    await store.close();
    await expect(store.commit([{ collection: 'c', key: 'k', value: 1 }])).rejects.toThrow(StoreError);
  });
});

describe('lowdb store: group commit', () => {
  it('writes 200 concurrent commits with far fewer fsyncs, each resolving on its own', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    const before = store.stats().journalSyncs;
    await Promise.all(Array.from({ length: 200 }, (_, n) => store.commit([{ collection: 'c', key: `k${n}`, value: n }])));
    const { journalSyncs, commits } = store.stats();
    expect(commits).toBe(200);
    expect(journalSyncs - before).toBeLessThanOrEqual(5);
    expect(await valuesOf(store, 'c')).toHaveLength(200);
    const lines = (await journalText((await journalFiles(dir))[0]!)).trimEnd().split('\n');
    expect(lines).toHaveLength(201); // header + one line per commit() call
    await store.close();
  });

  it('gives each caller its own outcome within a batch', async () => {
    const store = await openLowdbStore(await makeTempDir());
    const outcomes = await Promise.allSettled([
      store.commit([{ collection: 'c', key: 'good', value: 1 }]),
      store.commit([{ collection: 'c', key: 'bad', value: () => 1 }]),
      store.commit([{ collection: 'c', key: 'also-good', value: 2 }]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await valueOf(store, 'c', 'bad')).toBeUndefined();
    expect(await valuesOf(store, 'c')).toEqual([2, 1]);
    await store.close();
  });

  it('does not show a commit before it is durable', async () => {
    const store = await openLowdbStore(await makeTempDir());
    const pending = store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    expect(await valueOf(store, 'c', 'k')).toBeUndefined();
    await pending;
    expect(await valueOf(store, 'c', 'k')).toBe(1);
    await store.close();
  });

  it('journals a multi-write commit as one line, so a crash keeps all of it or none', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([
      { collection: 'instances', key: 'x', value: { revision: 2 } },
      { collection: 'charts', key: 'y', value: { revision: 2 } },
    ]);
    const journal = (await journalFiles(dir))[0]!;
    const lines = (await journalText(journal)).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('"x"');
    expect(lines[1]).toContain('"y"');
    const crashed = await copyAsCrashed(dir);
    await store.close();
    const { store: again } = await openLogged(crashed);
    expect([await valueOf(again, 'instances', 'x'), await valueOf(again, 'charts', 'y')]).toEqual([{ revision: 2 }, { revision: 2 }]);
    await again.close();
  });
});

describe('lowdb store: checkpoints', () => {
  it('checkpoints in the background once the journal passes the threshold, rewriting only dirty shards', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir, { checkpointBytes: 4096 });
    for (let n = 0; n < 100; n++) await store.commit([{ collection: 'c', key: `k${n}`, value: { n, pad: 'x'.repeat(50) } }]);
    await store.checkpoint();
    const { checkpoints, journals, dirtyShards } = store.stats();
    expect(checkpoints).toBeGreaterThan(1);
    expect(journals).toBe(1);
    expect(dirtyShards).toBe(0);
    const shardsBefore = new Map(await Promise.all((await shardFiles(dir)).map(async (file) => [file, await readFile(file, 'utf8')] as const)));
    await store.commit([{ collection: 'c', key: 'k1', value: 'changed' }]);
    await store.checkpoint();
    let rewritten = 0;
    for (const [file, text] of shardsBefore) if ((await readFile(file, 'utf8')) !== text) rewritten++;
    expect(rewritten).toBe(1);
    await store.close();
    const again = await openLowdbStore(dir);
    expect(await valuesOf(again, 'c')).toHaveLength(100);
    expect(await valueOf(again, 'c', 'k1')).toBe('changed');
    await again.close();
  });

  it('reports failing checkpoints in health() as a warning while writes go on, until one succeeds', async () => {
    const dir = await makeTempDir();
    const warnings: string[] = [];
    const store = await openLowdbStore(dir, { checkpointBytes: 2048, log: (level, msg) => level === 'warn' && warnings.push(msg) });
    const real = Shards.prototype.writeDirty;
    const refuse = vi.spyOn(Shards.prototype, 'writeDirty').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' }));
    try {
      for (let n = 0; n < 60; n++) await store.commit([{ collection: 'c', key: `k${n}`, value: { n, pad: 'x'.repeat(50) } }]);
      await until(() => warnings.length > 0, 'a checkpoint to fail');
      const health = store.health();
      expect(health).toMatchObject({ ok: true, warning: expect.stringMatching(/checkpoint .* failed .*ENOSPC.*retried/), journalBytes: expect.any(Number) });
      expect(health.journalBytes).toBeGreaterThan(2048);
      refuse.mockImplementation(real);
      for (let n = 0; n < 60; n++) await store.commit([{ collection: 'c', key: `k${n}`, value: { n, pad: 'y'.repeat(50) } }]);
      await until(() => store.health().warning === undefined, 'a checkpoint to succeed');
      expect(store.health()).toEqual({ ok: true });
    } finally {
      vi.restoreAllMocks();
      await store.close();
    }
  });

  it('keeps commits flowing while a checkpoint runs', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir, { checkpointBytes: 1024 });
    await Promise.all(Array.from({ length: 300 }, (_, n) => store.commit([{ collection: 'c', key: `k${n % 50}`, value: n }])));
    const running = store.checkpoint();
    await Promise.all(Array.from({ length: 50 }, (_, n) => store.commit([{ collection: 'd', key: `k${n}`, value: n }])));
    await running;
    const crashed = await copyAsCrashed(dir);
    await store.close();
    const { store: again } = await openLogged(crashed);
    expect(await valuesOf(again, 'c')).toHaveLength(50);
    expect(await valuesOf(again, 'd')).toHaveLength(50);
    expect(await valueOf(again, 'c', 'k49')).toBe(299);
    await again.close();
  });
});
