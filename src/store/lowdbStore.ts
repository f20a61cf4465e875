// The embedded store: a journal makes commits durable, lowdb shard files checkpoint them, reads come from memory.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collection } from './collection.js';
import { makeDirectoryDurably, syncDirectory } from './durableFile.js';
import { BatchTarget } from './gather.js';
import { encodeWrites, formatRecord, type Entry } from './journal.js';
import { JournalWriter } from './journalWriter.js';
import { Leases } from './leases.js';
import { applyEntries, loadDocuments, type RetiredJournal } from './loadDocuments.js';
import { DirLock, type StoreLog } from './lock.js';
import { CHECK_PLAIN_JSON, checkPlainJson } from './plainJson.js';
import { Revisions } from './revisions.js';
import type { Shards } from './shards.js';
import { Signal } from './signal.js';
import { StoreError, WriteConflict } from './store.js';
import type { Change, ChangeListener, ClaimQuery, CommitOptions, Lease, Page, PageQuery, Store, Stored, StoreHealth, Write } from './port.js';

/**
 * A checkpoint rewrites every shard changed since the last one, a few syscalls each, whatever its size; with
 * changes spread over many documents that is 256 files. 32 MiB between checkpoints keeps their cost per commit
 * small, and replaying that much journal after a crash takes about a second.
 */
const DEFAULT_CHECKPOINT_BYTES = 32 * 1024 * 1024;

/**
 * Batches on their way to disk at once, at most. A disk serves a few synced writes side by side in little
 * more time than one (this VM's: 1.6× as many with two in flight, 2.5× with three), so a batch need not wait
 * for the one before it to land; answers still go out in sequence order. Node's thread pool has four threads,
 * and checkpoints need one.
 */
const MAX_IN_FLIGHT = 3;

/** A record's bytes beyond its writes' JSON, at most: CRC, seq, pending, newline. Used to preallocate ahead. */
const RECORD_OVERHEAD = 80;

export interface LowdbStoreOptions {
  readonly log?: StoreLog;
  /** Journal bytes after which a checkpoint starts in the background (default 32 MiB). */
  readonly checkpointBytes?: number;
  /** Told of every journal write as it lands or fails (metrics); called in place, so it must be cheap. */
  readonly onJournalWrite?: (write: JournalWrite) => void;
}

/** One synced journal write: the commit() calls it carried and how long the write took to be durable. */
export interface JournalWrite {
  readonly commits: number;
  readonly ms: number;
  readonly ok: boolean;
}

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

interface PendingCommit {
  readonly body: string;
  /** The writes as given: plain JSON data by the port's contract, so memory holds them rather than `body` parsed back. */
  readonly entries: readonly Entry[];
  /** The writes as given, their expectations checked again if the commit fails with one before it. */
  readonly writes: readonly Write[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly issued: (() => void) | undefined;
}

/** A batch whose journal write has been issued; answered once it and every batch before it have landed. */
interface Batch {
  readonly commits: readonly PendingCommit[];
  readonly first: number;
  readonly offset: number;
  /** The failure count when it was issued: landing proves the store writes again only if none came after. */
  readonly failuresBefore: number;
  /** undefined while the write is in flight. */
  outcome?: 'written' | Error;
}

/** Opens (creating if needed) the store in `dir`: lock, load shards, replay journals. */
export function openLowdbStore(dir: string, options: LowdbStoreOptions = {}): Promise<LowdbStore> {
  return LowdbStore.open(dir, options);
}

export class LowdbStore implements Store {
  private queue: PendingCommit[] = [];
  private flushScheduled = false;
  private readonly target = new BatchTarget();
  private serial: Promise<unknown> = Promise.resolve();
  /** Issued journal writes, oldest first; the head is the oldest not yet answered. */
  private readonly inFlight: Batch[] = [];
  private readonly settled = new Signal();
  private readonly issued = new Signal();
  /** commit() calls queued so far, and how many of them are on their way to disk or failed: for whenIssued(). */
  private queuedCount = 0;
  private issuedCount = 0;
  private failureCount = 0;
  /** The first of a run of failed checkpoints, until one succeeds: journals grow meanwhile. */
  private checkpointProblem: { readonly at: Date; readonly problem: string } | undefined;
  /** The last failed write, until a later one lands. */
  private lastFailure: { readonly at: Date; readonly problem: string } | undefined;
  /** Set from a failed write until every batch from it on is rejected and the journal cut back. */
  private recovering: Promise<void> | undefined;
  private nextSeq: number;
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private nextCheckpointAt: number;
  private readonly counters = { commits: 0, failedCommits: 0, journalSyncs: 0, checkpoints: 0 };
  private checkpointedAt = Date.now();
  private readonly revisions = new Revisions((collection, key) => this.byCollection.get(collection)?.docs.get(key)?.revision ?? 0);
  private readonly leases = new Leases();
  private readonly listeners = new Set<ChangeListener>();

  private constructor(
    readonly dir: string,
    private readonly lock: DirLock,
    private readonly log: StoreLog,
    private readonly checkpointBytes: number,
    private readonly shards: Shards,
    private journal: JournalWriter,
    private retired: RetiredJournal[],
    private appliedSeq: number,
    private readonly byCollection: Map<string, Collection>,
    private readonly onJournalWrite: ((write: JournalWrite) => void) | undefined,
  ) {
    this.nextCheckpointAt = checkpointBytes;
    this.nextSeq = appliedSeq + 1;
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
    if (this.journal.broken) return Promise.reject(new StoreError(this.journal.broken.message, this.journal.file));
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
    return new Promise((resolve, reject) => {
      this.queue.push({ body, entries, writes, resolve, reject, issued });
      this.queuedCount++;
      this.target.joined(this.queue.length);
      this.scheduleFlush();
    });
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
    const since = this.lastFailure?.at.toISOString();
    const checkpoint = this.checkpointProblem;
    const warning = checkpoint ? { warning: checkpoint.problem, warningSince: checkpoint.at.toISOString(), journalBytes: this.journalBytes() } : {};
    if (this.journal.broken) return { ok: false, problem: this.journal.broken.message, ...(since ? { since } : {}), ...warning };
    if (this.lastFailure) return { ok: false, problem: this.lastFailure.problem, since: since!, ...warning };
    return { ok: true, ...warning };
  }

  /** Resolves once every commit() made so far is on its way to disk (or has failed): for tests of the write pipeline. */
  async whenIssued(): Promise<void> {
    const target = this.queuedCount;
    while (this.issuedCount < target) await this.issued.next();
  }

  /**
   * Rotates the journal, writes dirty shards, deletes the journals they cover. Commits go on meanwhile. A failure
   * shows in health() as a warning until a checkpoint succeeds.
   */
  async checkpoint(): Promise<void> {
    if (this.closing) throw new StoreError(`the store in ${this.dir} is closed`);
    while (this.checkpointing) await this.checkpointing.catch(() => undefined);
    this.checkpointing = this.runCheckpoint().then(() => {
      this.nextCheckpointAt = this.checkpointBytes;
      this.checkpointProblem = undefined;
    }, (error: unknown) => {
      const problem = `checkpoint of ${this.dir} failed (${String(error)}); journals are kept and it will be retried`;
      this.checkpointProblem ??= { at: new Date(), problem };
      this.log('warn', problem);
      throw error;
    }).finally(() => {
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
    for (const collection of this.byCollection.values()) documents += collection.docs.size;
    return {
      documents,
      ...this.counters,
      checkpointedAt: this.checkpointedAt,
      journalBytes: this.journalBytes(),
      journals: this.retired.length + 1,
      dirtyShards: this.shards.dirtyCount,
      lastSeq: this.appliedSeq,
    };
  }

  // Every batch's dispatch and every rotation runs through this chain, one at a time; writes overlap.
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    void this.serially(async () => {
      await this.target.fill(() => this.queue.length, this.inFlight.length > 0);
      while (this.inFlight.length >= MAX_IN_FLIGHT || this.recovering) await this.settled.next();
      this.flushScheduled = false;
      const commits = this.queue;
      this.queue = [];
      try {
        await this.dispatch(commits);
      } catch (error) {
        // dispatch handles disk errors itself; this is a bug's last line of defence, so no caller hangs.
        this.failed(error as Error);
        for (const pending of commits) pending.reject(error as Error);
        this.revisions.reset(this.inFlight.flatMap((batch) => batch.commits.map(({ entries }) => entries)));
      } finally {
        this.markIssued(commits);
      }
    });
  }

  /** Issues one write for the whole batch; its callers are answered by settle(), in sequence order. */
  private async dispatch(commits: PendingCommit[]): Promise<void> {
    if (commits.length === 0) return;
    const journal = this.journal;
    const first = this.nextSeq;
    let bytes: Buffer;
    let offset: number;
    try {
      await journal.makeRoom(commits.reduce((sum, pending) => sum + pending.body.length + RECORD_OVERHEAD, 0));
      // The oldest seq still in flight as this write is issued (its own first when nothing else is).
      const pending = this.inFlight[0]?.first ?? first;
      bytes = Buffer.from(commits.map((commit, at) => formatRecord(first + at, pending, commit.body)).join(''), 'utf8');
      offset = journal.reserve(bytes.length);
    } catch (error) {
      // Commits queued since may be built on these: they fail with them, as after a failed write.
      const queued = this.queue;
      this.queue = [];
      this.failed(error as Error);
      this.rejectAll([...commits, ...queued], error as Error);
      this.markIssued(queued);
      return;
    }
    this.nextSeq = first + commits.length;
    const batch: Batch = { commits, first, offset, failuresBefore: this.failureCount };
    this.target.dispatched(commits.length, this.inFlight.reduce((sum, earlier) => sum + earlier.commits.length, 0));
    this.inFlight.push(batch);
    this.counters.journalSyncs++;
    const started = performance.now();
    journal.write(bytes, offset).then(
      () => {
        this.onJournalWrite?.({ commits: commits.length, ms: performance.now() - started, ok: true });
        this.settle(batch, 'written');
      },
      (error: unknown) => {
        this.onJournalWrite?.({ commits: commits.length, ms: performance.now() - started, ok: false });
        this.settle(batch, error as Error);
      },
    );
  }

  private settle(batch: Batch, outcome: 'written' | Error): void {
    batch.outcome = outcome;
    if (outcome instanceof Error) this.failed(outcome);
    if (!this.recovering) {
      while (this.inFlight[0]?.outcome === 'written') this.answer(this.inFlight.shift()!);
      if (this.inFlight.some((waiting) => waiting.outcome instanceof Error)) this.recovering = this.recover();
    }
    this.settled.notify();
    this.checkpointIfDue();
  }

  /**
   * Memory changes only now, from the journaled JSON (or the values as given, which their contract makes equal
   * to it), so it holds exactly what a replay would produce.
   */
  private answer(batch: Batch): void {
    for (const [at, pending] of batch.commits.entries()) {
      applyEntries(this.shards, this.byCollection, batch.first + at, pending.entries, false);
      this.revisions.landed(pending.entries);
      // A write ends a document's lease once it lands: one that fails leaves the claim as it was, so its holder can try again.
      this.leases.end(pending.entries);
    }
    this.appliedSeq = batch.first + batch.commits.length - 1;
    if (batch.failuresBefore === this.failureCount) this.lastFailure = undefined;
    this.counters.commits += batch.commits.length;
    for (const pending of batch.commits) pending.resolve();
    if (this.listeners.size) this.tell(batch.commits.flatMap(({ entries }) => entries.map(([collection, key]): Change => ({ collection, key }))));
  }

  private tell(changes: readonly Change[]): void {
    for (const listener of this.listeners) listener(changes);
  }

  /**
   * A write failed. Every batch after it was issued while it was pending, and may hold changes built on it:
   * all of them are rejected, and once every write in flight has landed the journal is cut back to where the
   * failed one began, so none of them can replay after a restart.
   */
  private async recover(): Promise<void> {
    while (this.inFlight.some((batch) => batch.outcome === undefined)) await this.settled.next();
    while (this.inFlight[0]?.outcome === 'written') this.answer(this.inFlight.shift()!);
    const failed = this.inFlight.splice(0);
    const cause = failed[0]!.outcome as Error;
    await this.journal.cutBack(failed[0]!.offset);
    this.nextSeq = failed[0]!.first;
    // Commits made since may be built on the failed ones, and none was issued: they fail with them.
    const queued = this.queue;
    this.queue = [];
    this.rejectAll([...failed.flatMap((batch) => batch.commits), ...queued], cause);
    this.markIssued(queued);
    this.recovering = undefined;
    this.settled.notify();
  }

  private failed(cause: Error): void {
    this.failureCount++;
    this.lastFailure = { at: new Date(), problem: `a write to ${this.journal.file} failed: ${cause.message}` };
  }

  private markIssued(commits: readonly PendingCommit[]): void {
    this.issuedCount += commits.length;
    for (const commit of commits) commit.issued?.();
    this.issued.notify();
  }

  /**
   * Refuses commits that were accepted, and counts the revisions again from the commits still in flight. One whose
   * expectation held only because of a refused commit hears WriteConflict: rebuilt from what is stored, it may
   * go again at once.
   */
  private rejectAll(commits: readonly PendingCommit[], cause: Error): void {
    const failure = new StoreError(
      `could not make ${commits.length} commit(s) durable in ${this.journal.file} (${cause.message}); none of them was applied`,
      this.journal.file,
    );
    this.counters.failedCommits += commits.length;
    this.revisions.reset(this.inFlight.flatMap((batch) => batch.commits.map(({ entries }) => entries)));
    for (const pending of commits) {
      const conflicts = this.revisions.conflicts(pending.writes);
      pending.reject(conflicts.length ? new WriteConflict(conflicts.map(({ collection, key }) => ({ collection, key }))) : failure);
    }
  }

  /** Resolves once no journal write is in flight and no failure is being cleaned up. */
  private async drained(): Promise<void> {
    while (this.inFlight.length > 0 || this.recovering) await this.settled.next();
  }

  private checkpointIfDue(): void {
    if (this.checkpointing || this.closing || this.journalBytes() < this.nextCheckpointAt) return;
    this.checkpoint().catch(() => {
      // The journals still hold everything; try again once another threshold's worth has piled up, or when the checkpointer starts again.
      this.nextCheckpointAt = this.journalBytes() + this.checkpointBytes;
    });
  }

  private async runCheckpoint(): Promise<void> {
    await this.serially(() => this.rotate());
    const covered = [...this.retired];
    await this.shards.writeDirty(() => this.appliedSeq);
    await this.removeJournals(covered.map((journal) => journal.file));
    this.retired = this.retired.filter((journal) => !covered.includes(journal));
    this.counters.checkpoints++;
    this.checkpointedAt = Date.now();
  }

  /** Starts a new journal so commits continue while the old one waits for the checkpoint to cover it. */
  private async rotate(): Promise<void> {
    await this.drained();
    if (!this.journal.hasRecords) return;
    const next = await JournalWriter.create(join(this.dir, 'journal'), this.journal.gen + 1);
    const old = this.journal;
    this.journal = next;
    this.retired.push({ file: old.file, size: old.size });
    await old.close();
  }

  private async shutdown(): Promise<void> {
    this.listeners.clear();
    try {
      await this.serially(() => this.drained());
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
