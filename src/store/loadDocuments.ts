// Loading the embedded store's documents: the shard checkpoints, then every journal record after them, into memory.
import { join } from 'node:path';
import { Collection } from './collection.js';
import { removeTempFiles } from './durableFile.js';
import { listJournals, type Entry } from './journal.js';
import { JournalWriter } from './journalWriter.js';
import type { StoreLog } from './lock.js';
import { replayJournal } from './replay.js';
import { readManifest, shardOf, Shards } from './shards.js';

/** A journal a checkpoint has yet to cover: written no more, deleted once the shards hold its records. */
export interface RetiredJournal {
  readonly file: string;
  readonly size: number;
}

export interface LoadedDocuments {
  readonly shards: Shards;
  readonly collections: Map<string, Collection>;
  /** Appends continue in the newest journal (or a first one). */
  readonly writer: JournalWriter;
  readonly retired: RetiredJournal[];
  readonly appliedSeq: number;
}

export async function loadDocuments(dir: string, log: StoreLog): Promise<LoadedDocuments> {
    const shardDir = join(dir, 'shards');
    const journalDir = join(dir, 'journal');
    const shardCount = await readManifest(dir, shardDir, journalDir);
    for (const folder of [dir, shardDir, journalDir]) {
      const removed = await removeTempFiles(folder);
      if (removed.length) log('info', `removed ${removed.length} unfinished temp file(s) in ${folder}`);
    }
    const collections = new Map<string, Collection>();
    const shards = new Shards(shardDir, shardCount, (collection, key) => collections.get(collection)?.docs.get(key)?.revision ?? 1);
    const shardSeq = await shards.load((collection, key, value, revision) => collectionIn(collections, collection).docs.set(key, { key, value, revision }));

    const journals = await listJournals(journalDir);
    const retired: RetiredJournal[] = [];
    let journalSeq = 0;
    let newestSize = 0;
    for (const [position, journal] of journals.entries()) {
      const replayed = await replayJournal(journal.file, {
        newest: position === journals.length - 1,
        afterSeq: journalSeq,
        log,
        onRecord: (seq, entries) => applyEntries(shards, collections, seq, entries, true),
      });
      journalSeq = replayed.lastSeq;
      if (position < journals.length - 1) retired.push({ file: journal.file, size: replayed.size });
      else newestSize = replayed.size;
    }
    const newest = journals.at(-1);
    const writer = newest ? await JournalWriter.reopen(newest, newestSize) : await JournalWriter.create(journalDir, 1);
    const appliedSeq = Math.max(shardSeq, journalSeq);
    return { shards, collections, writer, retired, appliedSeq };
}

export function collectionIn(collections: Map<string, Collection>, name: string): Collection {
  let collection = collections.get(name);
  if (!collection) collections.set(name, (collection = new Collection()));
  return collection;
}

/**
 * Replay skips a write whose shard file already reflects its record, so an old journal cannot regress a document.
 * Each write gives its document the next revision (a document created again starts at 1), the same on replay as
 * when it landed, so the journal needs no revisions of its own.
 */
export function applyEntries(shards: Shards, collections: Map<string, Collection>, seq: number, entries: readonly Entry[], replaying: boolean): void {
  for (const [collection, key, value] of entries) {
    const index = shardOf(collection, key, shards.count);
    if (replaying && seq <= shards.seqOf(index)) continue;
    const documents = collectionIn(collections, collection);
    if (value === null) {
      shards.set(index, collection, key, undefined);
      documents.set(key, undefined);
      continue;
    }
    shards.set(index, collection, key, value);
    documents.write(key, value);
  }
}
