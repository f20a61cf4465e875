import { appendFile, copyFile, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatCrc } from '../../src/store/crc.js';
import { formatRecord } from '../../src/store/journal.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { StoreCorrupt } from '../../src/store/store.js';
import { copyAsCrashed, journalFiles, journalText, makeTempDir, openLogged, removeTempDirs, shardFiles, valueOf, valuesOf } from './helpers.js';

afterEach(removeTempDirs);

/** A data directory left by a crash after three commits, all still only in the journal. */
async function crashedWithJournal(): Promise<{ dir: string; journal: string }> {
  const dir = await makeTempDir();
  const store = await openLowdbStore(dir);
  for (const n of [1, 2, 3]) await store.commit([{ collection: 'c', key: `k${n}`, value: { n } }]);
  const crashed = await copyAsCrashed(dir);
  await store.close();
  return { dir: crashed, journal: (await journalFiles(crashed))[0]! };
}

async function expectCorrupt(dir: string, file: string, detail: RegExp): Promise<void> {
  const error = await openLowdbStore(dir).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StoreCorrupt);
  expect((error as StoreCorrupt).file).toBe(file);
  expect((error as Error).message).toContain(file);
  expect((error as Error).message).toMatch(detail);
}

describe('lowdb store: crash recovery', () => {
  it('replays the journal of a crashed server, reading the preallocated zeros after it as free space', async () => {
    const { dir, journal } = await crashedWithJournal();
    const records = Buffer.byteLength(await journalText(journal));
    const size = (await stat(journal)).size;
    expect(size, 'zeros preallocated after the records').toBeGreaterThan(records);
    const { store, logs } = await openLogged(dir);
    expect(await valuesOf(store, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(store.stats().lastSeq).toBe(3);
    expect(logs.filter((line) => line.level === 'warn')).toEqual([]);
    await store.commit([{ collection: 'c', key: 'k4', value: { n: 4 } }]);
    expect(store.stats().lastSeq).toBe(4);
    // The next record lands right after the last one, inside the space already there.
    const text = await journalText(journal);
    expect(text).not.toContain('\0');
    expect(text.trimEnd().split('\n')).toHaveLength(5);
    expect((await stat(journal)).size).toBe(size);
    const crashed = await copyAsCrashed(dir);
    await store.close();
    const { store: again } = await openLogged(crashed);
    expect(await valuesOf(again, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await again.close();
  });

  it('drops a torn tail of the newest journal with a warning, and keeps appending cleanly', async () => {
    const { dir, journal } = await crashedWithJournal();
    const intact = Buffer.byteLength(await journalText(journal));
    expect((await stat(journal)).size, 'space preallocated after the records').toBeGreaterThan(intact);
    // A torn write: part of a line, in the preallocated space right after the last record.
    const handle = await open(journal, 'r+');
    await handle.write('1234abcd {"seq":4,"writes":[["c","k4"', intact);
    await handle.close();
    const { store, logs } = await openLogged(dir);
    expect(logs.some((line) => line.level === 'warn' && line.msg.includes(journal) && /cut off \d+ bytes from line 5 .*interrupted by a crash; none of them was acknowledged/.test(line.msg))).toBe(true);
    expect((await stat(journal)).size).toBe(intact);
    expect(await valueOf(store, 'c', 'k4')).toBeUndefined();
    await store.commit([{ collection: 'c', key: 'k4', value: 'after' }]);
    const again = await copyAsCrashed(dir);
    await store.close();
    const { store: reopened } = await openLogged(again);
    expect(await valuesOf(reopened, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, 'after']);
    await reopened.close();
  });

  it('cuts off a write a crash interrupted, with the whole records of writes issued while it was pending', async () => {
    const { dir, journal } = await crashedWithJournal();
    const intact = Buffer.byteLength(await journalText(journal));
    // Three writes were in flight: seq 4 landed only in part (a sector of zeros in the middle of its line),
    // seq 5 and 6 landed whole, and both say seq 4 was pending when they were written.
    const four = formatRecord(4, 4, '[["c","k4",{"n":4,"pad":"' + 'x'.repeat(600) + '"}]]');
    const torn = four.slice(0, 20) + '\0'.repeat(512) + four.slice(532);
    const tail = torn + formatRecord(5, 4, '[["c","k5",5]]') + formatRecord(6, 4, '[["c","k6",6]]');
    const handle = await open(journal, 'r+');
    await handle.write(tail, intact);
    await handle.close();
    const { store, logs } = await openLogged(dir);
    const warnings = logs.filter((line) => line.level === 'warn').map((line) => line.msg);
    expect(warnings).toEqual([expect.stringMatching(/cut off \d+ bytes from line 5 \(byte \d+\) on: a write interrupted by a crash, and 2 whole record\(s\) written while it was pending; none of them was acknowledged/)]);
    expect(await valuesOf(store, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(store.stats().lastSeq).toBe(3);
    expect(await journalText(journal)).toHaveLength(intact);
    await store.commit([{ collection: 'c', key: 'k7', value: 7 }]);
    const again = await copyAsCrashed(dir);
    await store.close();
    const { store: reopened, logs: quiet } = await openLogged(again);
    expect(await valuesOf(reopened, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, 7]);
    expect(quiet.filter((line) => line.level === 'warn')).toEqual([]);
    await reopened.close();
  });

  it('reads journals whose records do not say what was pending (one write in flight at a time)', async () => {
    const { dir, journal } = await crashedWithJournal();
    const lines = (await journalText(journal)).trimEnd().split('\n');
    const old = lines.map((line, index) => {
      if (index === 0) return line;
      const json = line.slice(9).replace(/"pending":\d+,/, '');
      return `${formatCrc(json)} ${json}`;
    });
    await writeFile(journal, `${old.join('\n')}\n`);
    const { store, logs } = await openLogged(dir);
    expect(await valuesOf(store, 'c')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(logs.filter((line) => line.level === 'warn')).toEqual([]);
    await store.close();
  });

  it('replays an old journal a checkpoint already covered without regressing newer documents', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'a', value: 'old' }]);
    const firstJournal = (await journalFiles(dir))[0]!;
    const saved = join(await makeTempDir(), 'journal.log');
    await store.commit([{ collection: 'c', key: 'gone', value: 'soon deleted' }]);
    await copyFile(firstJournal, saved); // holds a=old and gone=…
    await store.commit([{ collection: 'c', key: 'a', value: 'new' }, { collection: 'c', key: 'gone', value: null }]);
    await store.checkpoint(); // shards now at the newest seq; the first journal is deleted
    expect(await journalFiles(dir)).not.toContain(firstJournal);
    await store.commit([{ collection: 'c', key: 'b', value: 'later' }]);
    // Crash between writing the shards and deleting the old journal: it is still there on restart.
    const crashed = await copyAsCrashed(dir);
    await copyFile(saved, join(crashed, 'journal', '000000000001.log'));
    await store.close();
    const { store: again } = await openLogged(crashed);
    expect(await valueOf(again, 'c', 'a')).toBe('new');
    expect(await valueOf(again, 'c', 'gone')).toBeUndefined();
    expect(await valueOf(again, 'c', 'b')).toBe('later');
    await again.close();
    const { store: third } = await openLogged(crashed);
    expect(await valuesOf(third, 'c')).toEqual(['new', 'later']);
    await third.close();
  });

  it('recovers from a crash after rotation but before any shard was written', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir, { checkpointBytes: 1 << 30 });
    await store.commit([{ collection: 'c', key: 'a', value: 1 }]);
    await store.checkpoint();
    await store.commit([{ collection: 'c', key: 'a', value: 2 }]);
    const crashed = await copyAsCrashed(dir);
    await store.close();
    // Only the older shard set and the newer journal: replay must apply it over the shards.
    const { store: again } = await openLogged(crashed);
    expect(await valueOf(again, 'c', 'a')).toBe(2);
    await again.close();
  });
});

describe('lowdb store: corruption stops start-up', () => {
  it('refuses a journal line with a bad CRC in the middle, naming file and line', async () => {
    const { dir, journal } = await crashedWithJournal();
    const lines = (await readFile(journal, 'utf8')).split('\n');
    lines[2] = lines[2]!.replace('"n":2', '"n":7');
    await writeFile(journal, lines.join('\n'));
    await expectCorrupt(dir, journal, /line 3 .*CRC/);
  });

  it('refuses a journal line that is not JSON even with a matching CRC', async () => {
    const { dir, journal } = await crashedWithJournal();
    const lines = (await readFile(journal, 'utf8')).split('\n');
    lines[1] = `${formatCrc('{"seq":1,')} {"seq":1,`;
    await writeFile(journal, lines.join('\n'));
    await expectCorrupt(dir, journal, /line 2 .*not valid JSON/);
  });

  it('refuses a damaged last line too: only bytes after the last newline count as torn', async () => {
    const { dir, journal } = await crashedWithJournal();
    const text = await journalText(journal);
    await writeFile(journal, `${text.slice(0, -5)}xxxx\n`);
    await expectCorrupt(dir, journal, /line 4 /);
  });

  it('refuses a damaged line followed by a record written after that line was on disk: it was acknowledged', async () => {
    const { dir, journal } = await crashedWithJournal();
    const lines = (await journalText(journal)).trimEnd().split('\n');
    // Line 3 (seq 2) loses a stretch to zeros, as a crash would leave it; but seq 3 was written when nothing
    // before it was pending, so seq 2 had landed and been answered: that is damage, not a crash.
    lines[2] = lines[2]!.slice(0, 12) + '\0'.repeat(8) + lines[2]!.slice(20);
    await writeFile(journal, `${lines.join('\n')}\n`);
    await expectCorrupt(dir, journal, /line 3 .*is damaged, yet record 3 \(line 4\) was written after it was on disk/);
  });

  it('refuses a torn tail in a journal that is not the newest', async () => {
    const { dir, journal } = await crashedWithJournal();
    const header = (await readFile(journal, 'utf8')).split('\n')[0]!;
    await appendFile(journal, 'garbage');
    await writeFile(join(dir, 'journal', '000000000002.log'), `${header}\n`);
    await expectCorrupt(dir, journal, /incomplete line/);
  });

  it('refuses a journal of an unknown format', async () => {
    const { dir, journal } = await crashedWithJournal();
    const lines = (await readFile(journal, 'utf8')).split('\n');
    const header = '{"chartd":"journal","format":2}';
    lines[0] = `${formatCrc(header)} ${header}`;
    await writeFile(journal, lines.join('\n'));
    await expectCorrupt(dir, journal, /format 2.*reads format 1/);
  });

  it('refuses a shard that is not JSON, or not shaped like a shard, or of an unknown format', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.close();
    const [shard] = await shardFiles(dir);
    const original = await readFile(shard!, 'utf8');
    await writeFile(shard!, original.slice(0, -3));
    await expectCorrupt(dir, shard!, /not valid JSON.*backup/);
    await writeFile(shard!, '{"format":1,"seq":"three","docs":{}}');
    await expectCorrupt(dir, shard!, /"seq"/);
    await writeFile(shard!, original.replace('"format":1', '"format":9'));
    await expectCorrupt(dir, shard!, /format 9/);
    await writeFile(shard!, original);
    const again = await openLowdbStore(dir);
    expect(await valueOf(again, 'c', 'k')).toBe(1);
    await again.close();
  });

  it('refuses a shard holding a document that hashes elsewhere (a renamed or copied file)', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.close();
    const [shard] = await shardFiles(dir);
    const elsewhere = join(dir, 'shards', shard!.endsWith('0000.json') ? '0001.json' : '0000.json');
    await copyFile(shard!, elsewhere);
    await expectCorrupt(dir, elsewhere, /belongs in/);
  });

  it('refuses a store manifest of an unknown format, or data without a manifest', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.close();
    const manifest = join(dir, 'store.json');
    const original = await readFile(manifest, 'utf8');
    await writeFile(manifest, original.replace('"format":1', '"format":2'));
    await expectCorrupt(dir, manifest, /store format 2/);
    await writeFile(manifest, '');
    await expectCorrupt(dir, manifest, /not valid JSON/);
    await rm(manifest);
    await expectCorrupt(dir, manifest, /missing/);
  });
});
