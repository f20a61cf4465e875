// Group commit for the embedded store: pending commits gathered into journal writes, several in flight, answered in order.
import { BatchTarget } from './gather.js';
import { formatRecord, type Entry } from './journal.js';
import type { JournalWriter } from './journalWriter.js';
import type { Write } from './port.js';
import type { Revisions } from './revisions.js';
import { Signal } from './signal.js';
import { StoreError, WriteConflict } from './store.js';

/**
 * Batches on their way to disk at once, at most. A disk serves a few synced writes side by side in little
 * more time than one (this VM's: 1.6× as many with two in flight, 2.5× with three), so a batch need not wait
 * for the one before it to land; answers still go out in sequence order. Node's thread pool has four threads,
 * and checkpoints need one.
 */
const MAX_IN_FLIGHT = 3;

/** A record's bytes beyond its writes' JSON, at most: CRC, seq, pending, newline. Used to preallocate ahead. */
const RECORD_OVERHEAD = 80;

/** One synced journal write: the commit() calls it carried and how long the write took to be durable. */
export interface JournalWrite {
  readonly commits: number;
  readonly ms: number;
  readonly ok: boolean;
}

/** A commit whose write has landed. */
export interface LandedCommit {
  /** The writes as given: plain JSON data by the port's contract, so memory holds them rather than `body` parsed back. */
  readonly entries: readonly Entry[];
}

interface PendingCommit extends LandedCommit {
  readonly body: string;
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

/** The last failed write: what failed and when. */
interface Failure {
  readonly at: Date;
  readonly problem: string;
}

/** What the store does as the pipeline's writes land. */
export interface PipelineHooks {
  /** A batch landed, its first commit at seq `first`: memory takes it before its callers are answered. */
  readonly apply: (first: number, commits: readonly LandedCommit[]) => void;
  /** A batch's callers have been answered: listeners hear of its changes. */
  readonly tell: (commits: readonly LandedCommit[]) => void;
  /** A write landed or failed: a checkpoint may be due. */
  readonly settled: () => void;
  /** Told of every journal write as it lands or fails (metrics); called in place, so it must be cheap. */
  readonly onJournalWrite: ((write: JournalWrite) => void) | undefined;
}

/**
 * Gathers commit() calls into batches, each one journal write; a failed write fails every batch issued after
 * it and cuts the journal back, so none of them can replay after a restart.
 */
export class CommitPipeline {
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
  /** The last failed write, until a later one lands. */
  private failure: Failure | undefined;
  /** Set from a failed write until every batch from it on is rejected and the journal cut back. */
  private recovering: Promise<void> | undefined;
  private nextSeq: number;
  private lastSeq: number;
  private readonly counters = { commits: 0, failedCommits: 0, journalSyncs: 0 };

  constructor(
    /** The journal appends go to; a rotation swaps it while nothing is in flight (see serially). */
    public journal: JournalWriter,
    appliedSeq: number,
    private readonly revisions: Revisions,
    private readonly hooks: PipelineHooks,
  ) {
    this.lastSeq = appliedSeq;
    this.nextSeq = appliedSeq + 1;
  }

  /** The seq of the last commit memory holds. */
  get appliedSeq(): number {
    return this.lastSeq;
  }

  get lastFailure(): Failure | undefined {
    return this.failure;
  }

  /** commit() calls made durable, refused because their write (or one before it) failed, and journal appends. */
  get counts(): { readonly commits: number; readonly failedCommits: number; readonly journalSyncs: number } {
    return this.counters;
  }

  /** Queues a commit already checked and accepted; resolves once it is durable and in memory. */
  submit(body: string, entries: readonly Entry[], writes: readonly Write[], issued: (() => void) | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ body, entries, writes, resolve, reject, issued });
      this.queuedCount++;
      this.target.joined(this.queue.length);
      this.scheduleFlush();
    });
  }

  /** Resolves once every commit() made so far is on its way to disk (or has failed). */
  async whenIssued(): Promise<void> {
    const target = this.queuedCount;
    while (this.issuedCount < target) await this.issued.next();
  }

  // Every batch's dispatch and every rotation runs through this chain, one at a time; writes overlap.
  serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Resolves once no journal write is in flight and no failure is being cleaned up. */
  async drained(): Promise<void> {
    while (this.inFlight.length > 0 || this.recovering) await this.settled.next();
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
        this.hooks.onJournalWrite?.({ commits: commits.length, ms: performance.now() - started, ok: true });
        this.settle(batch, 'written');
      },
      (error: unknown) => {
        this.hooks.onJournalWrite?.({ commits: commits.length, ms: performance.now() - started, ok: false });
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
    this.hooks.settled();
  }

  /**
   * Memory changes only now, from the journaled JSON (or the values as given, which their contract makes equal
   * to it), so it holds exactly what a replay would produce.
   */
  private answer(batch: Batch): void {
    this.hooks.apply(batch.first, batch.commits);
    this.lastSeq = batch.first + batch.commits.length - 1;
    if (batch.failuresBefore === this.failureCount) this.failure = undefined;
    this.counters.commits += batch.commits.length;
    for (const pending of batch.commits) pending.resolve();
    this.hooks.tell(batch.commits);
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
    this.failure = { at: new Date(), problem: `a write to ${this.journal.file} failed: ${cause.message}` };
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
}
