// Reading a data directory beside the server that owns it: what was acknowledged, from shards and journals, and nothing written.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDocuments } from '../../src/store/readOnly.js';
import { makeTempDir, openLogged, removeTempDirs } from './helpers.js';

afterEach(removeTempDirs);

async function newestJournal(dir: string): Promise<string> {
  const names = (await readdir(join(dir, 'journal'))).sort();
  return join(dir, 'journal', names.at(-1)!);
}

describe('readDocuments', () => {
  it('reads what a live store acknowledged, from its journal, without taking its lock', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    await store.commit([{ collection: 'instances', key: 'c/a', value: { n: 1 } }, { collection: 'instances', key: 'c/b', value: { n: 2 } }]);
    await store.commit([{ collection: 'instances', key: 'c/a', value: { n: 3 } }, { collection: 'instances', key: 'd/x', value: { n: 4 } }]);
    await store.commit([{ collection: 'instances', key: 'c/b', value: null }, { collection: 'other', key: 'c/z', value: 5 }]);
    expect(await readDocuments(dir, 'instances', 'c/')).toEqual([{ n: 3 }]);
    await store.commit([{ collection: 'instances', key: 'c/c', value: { n: 6 } }]);
    expect(await readDocuments(dir, 'instances', 'c/')).toEqual([{ n: 3 }, { n: 6 }]);
    await store.close();
  });

  it('leaves out a write still in flight and cuts nothing off the journal', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    await store.commit([{ collection: 'instances', key: 'c/a', value: { n: 1 } }]);
    const journal = await newestJournal(dir);
    const bytes = await readFile(journal);
    const end = bytes.lastIndexOf(0x0a) + 1;
    // Half a record where the next append goes, as a reader may catch a write on its way to disk.
    const half = Buffer.from('0badc0de {"seq":2,"pending":2,"writes":[["instances","c/b",');
    const handle = await open(journal, 'r+');
    await handle.write(half, 0, half.length, end);
    await handle.close();
    const size = (await stat(journal)).size;
    expect(await readDocuments(dir, 'instances', 'c/')).toEqual([{ n: 1 }]);
    expect((await stat(journal)).size).toBe(size);
    expect((await readFile(journal)).subarray(end, end + half.length)).toEqual(half);
    await store.close();
  });

  it('reads a stopped store from its checkpointed shards', async () => {
    const dir = await makeTempDir();
    const { store } = await openLogged(dir);
    await store.commit([{ collection: 'instances', key: 'c/a', value: { n: 1 } }, { collection: 'instances', key: 'c/b', value: { n: 2 } }]);
    await store.close();
    expect(await readdir(join(dir, 'journal'))).toEqual([]);
    expect(await readDocuments(dir, 'instances', 'c/')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await readdir(dir)).not.toContain('LOCK');
  });
});
