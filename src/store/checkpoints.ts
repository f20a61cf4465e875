// Checkpoints of the embedded store: the journal rotated, dirty shards written, the journals they cover deleted.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommitPipeline } from './commitPipeline.js';
import { syncDirectory } from './durableFile.js';
import { JournalWriter } from './journalWriter.js';
import type { RetiredJournal } from './loadDocuments.js';
import type { StoreLog } from './lock.js';
import type { Shards } from './shards.js';

/**
 * A checkpoint rewrites every shard changed since the last one, a few syscalls each, whatever its size; with
 * changes spread over many documents that is 256 files. 32 MiB between checkpoints keeps their cost per commit
 * small, and replaying that much journal after a crash takes about a second.
 */
export const DEFAULT_CHECKPOINT_BYTES = 32 * 1024 * 1024;

/** A run of failed checkpoints: what the first said and when. */
interface Failing {
  readonly at: Date;
  readonly problem: string;
}

/** Writes checkpoints, one at a time, in the background once the journals pass `checkpointBytes`, or when asked. */
export class Checkpoints {
  /** The first of a run of failed checkpoints, until one succeeds: journals grow meanwhile. */
  private failing: Failing | undefined;
  private running: Promise<void> | undefined;
  private nextAt: number;
  private taken = 0;
  private lastAt = Date.now();

  constructor(
    private readonly dir: string,
    private readonly log: StoreLog,
    private readonly checkpointBytes: number,
    private readonly shards: Shards,
    /** Its journal is the one rotated; rotations run in its chain, once no write is in flight. */
    private readonly pipeline: CommitPipeline,
    private retired: RetiredJournal[],
  ) {
    this.nextAt = checkpointBytes;
  }

  get problem(): Failing | undefined {
    return this.failing;
  }

  get count(): number {
    return this.taken;
  }

  /** When the last checkpoint finished (ms since the epoch), or when the store was opened if none has since. */
  get checkpointedAt(): number {
    return this.lastAt;
  }

  get journals(): number {
    return this.retired.length + 1;
  }

  /** Bytes in journals not yet covered by a checkpoint. */
  journalBytes(): number {
    return this.retired.reduce((sum, journal) => sum + journal.size, this.pipeline.journal.size);
  }

  /** One checkpoint after any under way (see LowdbStore.checkpoint); a failure shows in `problem` until one succeeds. */
  async take(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.write().then(() => {
      this.nextAt = this.checkpointBytes;
      this.failing = undefined;
    }, (error: unknown) => {
      const problem = `checkpoint of ${this.dir} failed (${String(error)}); journals are kept and it will be retried`;
      this.failing ??= { at: new Date(), problem };
      this.log('warn', problem);
      throw error;
    }).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Starts a checkpoint in the background once the journals hold `checkpointBytes` more than the last covered. */
  takeIfDue(): void {
    if (this.running || this.journalBytes() < this.nextAt) return;
    this.take().catch(() => {
      // The journals still hold everything; try again once another threshold's worth has piled up, or when the checkpointer starts again.
      this.nextAt = this.journalBytes() + this.checkpointBytes;
    });
  }

  /** Once every commit has landed: waits for a checkpoint under way, then puts everything in the shards and deletes every journal. */
  async finish(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    await this.pipeline.journal.close();
    // Everything goes into the shards, so no journal is needed on the next start.
    await this.shards.writeDirty(() => this.pipeline.appliedSeq);
    await this.removeJournals([...this.retired.map((journal) => journal.file), this.pipeline.journal.file]);
  }

  private async write(): Promise<void> {
    await this.pipeline.serially(() => this.rotate());
    const covered = [...this.retired];
    await this.shards.writeDirty(() => this.pipeline.appliedSeq);
    await this.removeJournals(covered.map((journal) => journal.file));
    this.retired = this.retired.filter((journal) => !covered.includes(journal));
    this.taken++;
    this.lastAt = Date.now();
  }

  /** Starts a new journal so commits continue while the old one waits for the checkpoint to cover it. */
  private async rotate(): Promise<void> {
    await this.pipeline.drained();
    if (!this.pipeline.journal.hasRecords) return;
    const next = await JournalWriter.create(join(this.dir, 'journal'), this.pipeline.journal.gen + 1);
    const old = this.pipeline.journal;
    this.pipeline.journal = next;
    this.retired.push({ file: old.file, size: old.size });
    await old.close();
  }

  private async removeJournals(files: readonly string[]): Promise<void> {
    for (const file of files) await rm(file, { force: true });
    if (files.length) await syncDirectory(join(this.dir, 'journal'));
  }
}
