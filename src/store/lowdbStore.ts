// The embedded store: a journal makes commits durable, lowdb shard files checkpoint them, reads come from memory.
import { Checkpoints, DEFAULT_CHECKPOINT_BYTES } from './checkpoints.js';
import type { Collection } from './collection.js';
import { CommitPipeline, type JournalWrite, type LandedCommit } from './commitPipeline.js';
import { makeDirectoryDurably } from './durableFile.js';
import { encodeWrites, type Entry } from './journal.js';
import type { JournalWriter } from './journalWriter.js';
import { Leases } from './leases.js';
import { applyEntries, loadDocuments, type RetiredJournal } from './loadDocuments.js';
import { DirLock, type StoreLog } from './lock.js';
import { CHECK_PLAIN_JSON, checkPlainJson } from './plainJson.js';
import { Revisions } from './revisions.js';
import type { Shards } from './shards.js';
import { StoreError, WriteConflict } from './store.js';
import type { Change, ChangeListener, ClaimQuery, CommitOptions, Lease, Page, PageQuery, Store, Stored, StoreHealth, Write } from './port.js';

export interface LowdbStoreOptions {
  readonly log?: StoreLog;
  /** Journal bytes after which a checkpoint starts in the background (default 32 MiB). */
  readonly checkpointBytes?: number;
  /** Told of every journal write as it lands or fails (metrics); called in place, so it must be cheap. */
  readonly onJournalWrite?: (write: JournalWrite) => void;
}

export type { JournalWrite } from './commitPipeline.js';

export interface StoreStats {
  readonly documents: number;
  /** commit() calls made durable. */
  readonly commits: number;
  /** commit() calls refused because their write (or one before it) failed. */
  readonly failedCommits: number;
  /** Journal appends, each one write and one fdatasync, successful or not. */
  readonly journalSyncs: number;
  readonly checkpoints: number;
  /** When the last checkpoint finished (ms since the epoch), or when the store was opened if none has since. */
  readonly checkpointedAt: number;
  /** Bytes in journals not yet covered by a checkpoint. */
  readonly journalBytes: number;
  readonly journals: number;
  readonly dirtyShards: number;
  readonly lastSeq: number;
}

/** Opens (creating if needed) the store in `dir`: lock, load shards, replay journals. */
export function openLowdbStore(dir: string, options: LowdbStoreOptions = {}): Promise<LowdbStore> {
  return LowdbStore.open(dir, options);
}

export class LowdbStore implements Store {
  private closing: Promise<void> | undefined;
  private readonly revisions = new Revisions((collection, key) => this.byCollection.get(collection)?.docs.get(key)?.revision ?? 0);
  private readonly leases = new Leases();
  private readonly listeners = new Set<ChangeListener>();
  private readonly pipeline: CommitPipeline;
  private readonly checkpoints: Checkpoints;

  private constructor(
    readonly dir: string,
    private readonly lock: DirLock,
    log: StoreLog,
    checkpointBytes: number,
    private readonly shards: Shards,
    journal: JournalWriter,
    retired: RetiredJournal[],
    appliedSeq: number,
    private readonly byCollection: Map<string, Collection>,
    onJournalWrite: ((write: JournalWrite) => void) | undefined,
  ) {
    this.pipeline = new CommitPipeline(journal, appliedSeq, this.revisions, {
      apply: (first, commits) => this.apply(first, commits),
      tell: (commits) => this.tell(commits),
      settled: () => {
        // A closing store takes no checkpoint in the background: close() writes the last one itself.
        if (!this.closing) this.checkpoints.takeIfDue();
      },
      onJournalWrite,
    });
    this.checkpoints = new Checkpoints(dir, log, checkpointBytes, shards, this.pipeline, retired);
  }

  static async open(dir: string, options: LowdbStoreOptions): Promise<LowdbStore> {
    const log = options.log ?? (() => {});
    await makeDirectoryDurably(dir);
    const lock = await DirLock.acquire(dir, log);
    try {
      return await LowdbStore.load(dir, lock, log, options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES, options.onJournalWrite);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async load(dir: string, lock: DirLock, log: StoreLog, checkpointBytes: number, onJournalWrite: LowdbStoreOptions['onJournalWrite']): Promise<LowdbStore> {
    const { shards, collections, writer, retired, appliedSeq } = await loadDocuments(dir, log);
    return new LowdbStore(dir, lock, log, checkpointBytes, shards, writer, retired, appliedSeq, collections, onJournalWrite);
  }

  get<T>(collection: string, key: string): Promise<Stored<T> | undefined> {
    return Promise.resolve(this.byCollection.get(collection)?.docs.get(key) as Stored<T> | undefined);
  }

  async getMany<T>(collection: string, keys: readonly string[]): Promise<Map<string, Stored<T>>> {
    const found = new Map<string, Stored<T>>();
    for (const key of keys) {
      const stored = await this.get<T>(collection, key);
      if (stored) found.set(key, stored);
    }
    return found;
  }

  page<T>(collection: string, query: PageQuery<T>): Promise<Page<Stored<T>>> {
    return Promise.resolve((this.byCollection.get(collection)?.page(query as PageQuery<unknown>) ?? { documents: [], next: undefined }) as Page<Stored<T>>);
  }

  count(collection: string, prefix?: string): Promise<number> {
    return Promise.resolve(this.byCollection.get(collection)?.count(prefix) ?? 0);
  }

  collections(): Promise<string[]> {
    return Promise.resolve([...this.byCollection].filter(([, documents]) => documents.docs.size > 0).map(([name]) => name).sort());
  }

  /**
   * Expectations and the fence are checked against what every commit accepted before will have made, so a change
   * may build on one still on its way to disk; if that one fails, this one fails too (WriteConflict when its
   * expectation then no longer holds), never applied on its own.
   */
  commit(writes: readonly Write[], { fence, issued }: CommitOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(new StoreError(`the store in ${this.dir} is closed`));
    const journal = this.pipeline.journal;
    if (journal.broken) return Promise.reject(new StoreError(journal.broken.message, journal.file));
    let body: string;
    try {
      body = encodeWrites(writes);
      if (CHECK_PLAIN_JSON) for (const { collection, key, value } of writes) checkPlainJson(collection, key, value, JSON.stringify(value));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const conflicts: { collection: string; key: string }[] = this.revisions.conflicts(writes);
    if (fence && !this.leases.holds(fence)) conflicts.push(fence);
    if (conflicts.length) return Promise.reject(new WriteConflict(conflicts.map(({ collection, key }) => ({ collection, key }))));
    if (writes.length === 0) return Promise.resolve();
    const entries = writes.map(({ collection, key, value }): Entry => [collection, key, value]);
    this.revisions.accept(entries);
    return this.pipeline.submit(body, entries, writes, issued);
  }

  claim<T>(collection: string, query: ClaimQuery): Promise<(Stored<T> & { lease: Lease })[]> {
    if (this.closing) return Promise.reject(new StoreError(`the store in ${this.dir} is closed`));
    return Promise.resolve(this.leases.claim<T>(collection, this.byCollection.get(collection), query, (key) => this.revisions.isPending(collection, key)));
  }

  renew(collection: string, keys: readonly string[], lease: { owner: string; until: number }): Promise<string[]> {
    return Promise.resolve(this.leases.renew(collection, keys, lease));
  }

  /** Told of this store's own commits once they are durable and readable, in the order they landed. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  health(): StoreHealth {
    const lastFailure = this.pipeline.lastFailure;
    const broken = this.pipeline.journal.broken;
    const since = lastFailure?.at.toISOString();
    const checkpoint = this.checkpoints.problem;
    const warning = checkpoint ? { warning: checkpoint.problem, warningSince: checkpoint.at.toISOString(), journalBytes: this.checkpoints.journalBytes() } : {};
    if (broken) return { ok: false, problem: broken.message, ...(since ? { since } : {}), ...warning };
    if (lastFailure) return { ok: false, problem: lastFailure.problem, since: since!, ...warning };
    return { ok: true, ...warning };
  }

  /** Resolves once every commit() made so far is on its way to disk (or has failed): for tests of the write pipeline. */
  whenIssued(): Promise<void> {
    return this.pipeline.whenIssued();
  }

  /**
   * Rotates the journal, writes dirty shards, deletes the journals they cover. Commits go on meanwhile. A failure
   * shows in health() as a warning until a checkpoint succeeds.
   */
  async checkpoint(): Promise<void> {
    if (this.closing) throw new StoreError(`the store in ${this.dir} is closed`);
    return this.checkpoints.take();
  }

  /** Waits for queued commits, checkpoints everything, deletes the journals, releases the lock. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): StoreStats {
    let documents = 0;
    for (const collection of this.byCollection.values()) documents += collection.docs.size;
    return {
      documents,
      ...this.pipeline.counts,
      checkpoints: this.checkpoints.count,
      checkpointedAt: this.checkpoints.checkpointedAt,
      journalBytes: this.checkpoints.journalBytes(),
      journals: this.checkpoints.journals,
      dirtyShards: this.shards.dirtyCount,
      lastSeq: this.pipeline.appliedSeq,
    };
  }

  /** A landed batch goes into memory: its documents, their revisions, and the leases its writes end. */
  private apply(first: number, commits: readonly LandedCommit[]): void {
    for (const [at, { entries }] of commits.entries()) {
      applyEntries(this.shards, this.byCollection, first + at, entries, false);
      this.revisions.landed(entries);
      // A write ends a document's lease once it lands: one that fails leaves the claim as it was, so its holder can try again.
      this.leases.end(entries);
    }
  }

  private tell(commits: readonly LandedCommit[]): void {
    if (this.listeners.size === 0) return;
    const changes = commits.flatMap(({ entries }) => entries.map(([collection, key]): Change => ({ collection, key })));
    for (const listener of this.listeners) listener(changes);
  }

  private async shutdown(): Promise<void> {
    this.listeners.clear();
    try {
      await this.pipeline.serially(() => this.pipeline.drained());
      await this.checkpoints.finish();
    } finally {
      await this.lock.release();
    }
  }
}
