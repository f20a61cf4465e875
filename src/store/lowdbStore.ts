// The embedded Store: a journal makes commits durable, lowdb shard files checkpoint them, reads come from memory.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectoryDurably, removeTempFiles, syncDirectory } from './durableFile.js';
import { encodeWrites, formatRecord, JournalWriter, listJournals, replayJournal, type Entry } from './journal.js';
import { DirLock, type StoreLog } from './lock.js';
import { readManifest, shardOf, Shards } from './shards.js';
import { StoreError, type Store, type Write } from './store.js';
import { gather } from '../gather.js';

const DEFAULT_CHECKPOINT_BYTES = 8 * 1024 * 1024;

export interface LowdbStoreOptions {
  readonly log?: StoreLog;
  /** Journal bytes after which a checkpoint starts in the background (default 8 MiB). */
  readonly checkpointBytes?: number;
}

export interface StoreStats {
  readonly documents: number;
  /** commit() calls made durable. */
  readonly commits: number;
  /** Journal appends, each one write and one fdatasync, successful or not. */
  readonly journalSyncs: number;
  readonly checkpoints: number;
  /** Bytes in journals not yet covered by a checkpoint. */
  readonly journalBytes: number;
  readonly journals: number;
  readonly dirtyShards: number;
  readonly lastSeq: number;
}

interface PendingCommit {
  readonly body: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface RetiredJournal {
  readonly file: string;
  readonly size: number;
}

/** Opens (creating if needed) the store in `dir`: lock, load shards, replay journals. */
export function openLowdbStore(dir: string, options: LowdbStoreOptions = {}): Promise<LowdbStore> {
  return LowdbStore.open(dir, options);
}

export class LowdbStore implements Store {
  private queue: PendingCommit[] = [];
  private flushScheduled = false;
  /** Commits in the last batch and those that queued while it was written: how many to gather next time. */
  private concurrency = 0;
  private serial: Promise<unknown> = Promise.resolve();
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private nextCheckpointAt: number;
  private readonly counters = { commits: 0, journalSyncs: 0, checkpoints: 0 };

  private constructor(
    readonly dir: string,
    private readonly lock: DirLock,
    private readonly log: StoreLog,
    private readonly checkpointBytes: number,
    private readonly shards: Shards,
    private journal: JournalWriter,
    private retired: RetiredJournal[],
    private appliedSeq: number,
    private readonly collections: Map<string, Collection>,
  ) {
    this.nextCheckpointAt = checkpointBytes;
  }

  static async open(dir: string, options: LowdbStoreOptions): Promise<LowdbStore> {
    const log = options.log ?? (() => {});
    await makeDirectoryDurably(dir);
    const lock = await DirLock.acquire(dir, log);
    try {
      return await LowdbStore.load(dir, lock, log, options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async load(dir: string, lock: DirLock, log: StoreLog, checkpointBytes: number): Promise<LowdbStore> {
    const shardDir = join(dir, 'shards');
    const journalDir = join(dir, 'journal');
    const shardCount = await readManifest(dir, shardDir, journalDir);
    for (const folder of [dir, shardDir, journalDir]) {
      const removed = await removeTempFiles(folder);
      if (removed.length) log('info', `removed ${removed.length} unfinished temp file(s) in ${folder}`);
    }
    const shards = new Shards(shardDir, shardCount);
    const collections = new Map<string, Collection>();
    const shardSeq = await shards.load((collection, key, value) => collectionIn(collections, collection).docs.set(key, value));

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
    return new LowdbStore(dir, lock, log, checkpointBytes, shards, writer, retired, appliedSeq, collections);
  }

  get<T = unknown>(collection: string, key: string): T | undefined {
    return this.collections.get(collection)?.docs.get(key) as T | undefined;
  }

  list<T = unknown>(collection: string, prefix?: string): T[] {
    return (this.collections.get(collection)?.list(prefix) ?? []) as T[];
  }

  commit(writes: readonly Write[]): Promise<void> {
    if (this.closing) return Promise.reject(new StoreError(`the store in ${this.dir} is closed`));
    if (this.journal.broken) return Promise.reject(new StoreError(this.journal.broken.message, this.journal.file));
    let body: string;
    try {
      body = encodeWrites(writes);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (writes.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ body, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Rotates the journal, writes dirty shards, deletes the journals they cover. Commits go on meanwhile. */
  async checkpoint(): Promise<void> {
    if (this.closing) throw new StoreError(`the store in ${this.dir} is closed`);
    while (this.checkpointing) await this.checkpointing.catch(() => undefined);
    this.checkpointing = this.runCheckpoint().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  /** Waits for queued commits, checkpoints everything, deletes the journals, releases the lock. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): StoreStats {
    let documents = 0;
    for (const collection of this.collections.values()) documents += collection.docs.size;
    return {
      documents,
      ...this.counters,
      journalBytes: this.journalBytes(),
      journals: this.retired.length + 1,
      dirtyShards: this.shards.dirtyCount,
      lastSeq: this.appliedSeq,
    };
  }

  // Every journal append and rotation runs through this chain, one at a time.
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    void this.serially(async () => {
      // One turn's wait lets every commit() of the current tick join this batch.
      await new Promise((resolve) => setImmediate(resolve));
      await gather(() => this.queue.length, this.concurrency);
      this.flushScheduled = false;
      const batch = this.queue;
      this.queue = [];
      try {
        await this.writeBatch(batch);
      } catch (error) {
        // writeBatch handles disk errors itself; this is a bug's last line of defence, so no caller hangs.
        for (const pending of batch) pending.reject(error as Error);
      }
      this.concurrency = batch.length + this.queue.length;
      this.checkpointIfDue();
    });
  }

  /** One write and one fdatasync for the whole batch; memory changes only after both succeed. */
  private async writeBatch(batch: PendingCommit[]): Promise<void> {
    const first = this.appliedSeq + 1;
    const text = batch.map((pending, offset) => formatRecord(first + offset, pending.body)).join('');
    this.counters.journalSyncs++;
    try {
      await this.journal.append(text);
    } catch (error) {
      const failure = new StoreError(
        `could not make ${batch.length} commit(s) durable in ${this.journal.file} (${(error as Error).message}); none of them was applied`,
        this.journal.file,
      );
      for (const pending of batch) pending.reject(failure);
      return;
    }
    for (const [offset, pending] of batch.entries()) {
      applyEntries(this.shards, this.collections, first + offset, JSON.parse(pending.body) as Entry[], false);
    }
    this.appliedSeq = first + batch.length - 1;
    this.counters.commits += batch.length;
    for (const pending of batch) pending.resolve();
  }

  private checkpointIfDue(): void {
    if (this.checkpointing || this.closing || this.journalBytes() < this.nextCheckpointAt) return;
    this.checkpoint().then(
      () => {
        this.nextCheckpointAt = this.checkpointBytes;
      },
      (error: unknown) => {
        // The journals still hold everything; try again once another threshold's worth has piled up.
        this.nextCheckpointAt = this.journalBytes() + this.checkpointBytes;
        this.log('warn', `checkpoint of ${this.dir} failed (${String(error)}); journals are kept and it will be retried`);
      },
    );
  }

  private async runCheckpoint(): Promise<void> {
    await this.serially(() => this.rotate());
    const covered = [...this.retired];
    await this.shards.writeDirty(() => this.appliedSeq);
    await this.removeJournals(covered.map((journal) => journal.file));
    this.retired = this.retired.filter((journal) => !covered.includes(journal));
    this.counters.checkpoints++;
  }

  /** Starts a new journal so commits continue while the old one waits for the checkpoint to cover it. */
  private async rotate(): Promise<void> {
    if (!this.journal.hasRecords) return;
    const next = await JournalWriter.create(join(this.dir, 'journal'), this.journal.gen + 1);
    const old = this.journal;
    this.journal = next;
    this.retired.push({ file: old.file, size: old.size });
    await old.close();
  }

  private async shutdown(): Promise<void> {
    try {
      await this.serially(async () => undefined);
      while (this.checkpointing) await this.checkpointing.catch(() => undefined);
      await this.journal.close();
      // Everything goes into the shards, so no journal is needed on the next start.
      await this.shards.writeDirty(() => this.appliedSeq);
      await this.removeJournals([...this.retired.map((journal) => journal.file), this.journal.file]);
    } finally {
      await this.lock.release();
    }
  }

  private async removeJournals(files: readonly string[]): Promise<void> {
    for (const file of files) await rm(file, { force: true });
    if (files.length) await syncDirectory(join(this.dir, 'journal'));
  }

  private journalBytes(): number {
    return this.retired.reduce((sum, journal) => sum + journal.size, this.journal.size);
  }
}

/** One collection in memory: documents by key, plus a sorted view kept for list(). */
class Collection {
  readonly docs = new Map<string, unknown>();
  private sortedKeys: string[] | undefined;
  private sortedValues: unknown[] | undefined;

  set(key: string, value: unknown): void {
    const keys = this.sortedKeys;
    if (value === undefined) {
      if (!this.docs.delete(key) || !keys) return;
      const at = findKey(keys, key);
      keys.splice(at, 1);
      this.sortedValues?.splice(at, 1);
      return;
    }
    const isNew = !this.docs.has(key);
    this.docs.set(key, value);
    if (!keys) return;
    // Keep the sorted view in step, so list() stays a copy rather than a rebuild after every commit.
    const at = findKey(keys, key);
    if (isNew) {
      keys.splice(at, 0, key);
      this.sortedValues?.splice(at, 0, value);
    } else if (this.sortedValues) {
      this.sortedValues[at] = value;
    }
  }

  /** A fresh array each call (callers may sort or filter it); the documents themselves are shared. */
  list(prefix?: string): unknown[] {
    const keys = (this.sortedKeys ??= [...this.docs.keys()].sort());
    const values = (this.sortedValues ??= keys.map((key) => this.docs.get(key)));
    if (!prefix) return values.slice();
    const start = findKey(keys, prefix);
    let end = start;
    while (end < keys.length && keys[end]!.startsWith(prefix)) end += 1;
    return values.slice(start, end);
  }
}

/** Where `key` is, or would be inserted, in ascending `keys`. */
function findKey(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

function collectionIn(collections: Map<string, Collection>, name: string): Collection {
  let collection = collections.get(name);
  if (!collection) collections.set(name, (collection = new Collection()));
  return collection;
}

/** Replay skips a write whose shard file already reflects its record, so an old journal cannot regress a document. */
function applyEntries(shards: Shards, collections: Map<string, Collection>, seq: number, entries: readonly Entry[], replaying: boolean): void {
  for (const [collection, key, stored] of entries) {
    const index = shardOf(collection, key, shards.count);
    if (replaying && seq <= shards.seqOf(index)) continue;
    const value = stored === null ? undefined : stored;
    shards.set(index, collection, key, value);
    collectionIn(collections, collection).set(key, value);
  }
}
