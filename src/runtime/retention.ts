// --retain-finished: finished instances are removed once they have been finished that long, paced, as a background service.

import type { Logger } from 'pino';
import { isFinished, type Snapshot } from '../engine/snapshot.js';
import type { Clock, ClockTimer } from './clock.js';
import { FinishedQueue } from './finishedQueue.js';
import { instanceKey, type Runtime } from './runtime.js';

/**
 * The most removals a second unless --retain-finished-rate says otherwise: few enough that check-ins hardly notice a
 * backlog going (bench/retention.mjs), many enough that 100,000 are gone in under nine minutes.
 */
export const DEFAULT_REMOVALS_PER_SECOND = 200;
/** The longest a clock timer waits before looking again (timers cannot wait longer than about 24 days). */
const MAX_WAIT_MS = 24 * 60 * 60 * 1000;
/** Removals in one commit. */
const BATCH = 16;
/** How long removals the store refused wait before they are tried again. */
const RETRY_MS = 10_000;

export interface RetentionOptions {
  readonly runtime: Runtime;
  readonly clock: Clock;
  readonly log: Logger;
  /** Every instance stored, read at each start. */
  stored(): Promise<readonly Snapshot[]>;
  /** How long an instance stays after it finished (done or cancelled). */
  readonly afterMs: number;
  /** The most instances removed a second (DEFAULT_REMOVALS_PER_SECOND unless given). */
  readonly perSecond?: number;
}

export class Retention {
  /** Finished instances in the order they finished: the first is due first. */
  private readonly finished = new FinishedQueue();
  private timer: ClockTimer | undefined;
  private wakeAt = Infinity;
  private sweeping: Promise<void> | undefined;
  /** Ends a sweep's pause early, when stopping. */
  private wakePause: (() => void) | undefined;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  /** Why the last batch of removals failed, until a later one succeeds. */
  private problem: string | undefined;
  /** After a batch failed, the sweep waits until then: the store refused it, and likely refuses the next ones too. */
  private holdUntil = -Infinity;

  constructor(private readonly options: RetentionOptions) {}

  /** Learns of every finished instance stored, then follows each change; the first sweep is due at the oldest's time. */
  async start(): Promise<void> {
    this.stopped = false;
    this.problem = undefined;
    this.holdUntil = -Infinity;
    this.finished.clear();
    const found = (await this.options.stored()).filter(isFinished).map((snapshot) => [instanceKey(snapshot.chart, snapshot.id), finishedAt(snapshot)] as const);
    for (const [key, at] of found.sort((a, b) => a[1] - b[1])) this.finished.add(key, at);
    const { runtime } = this.options;
    this.unsubscribe.push(
      runtime.onChange(({ after }) => this.note(after)),
      runtime.onRemove((removed) => this.finished.delete(instanceKey(removed.chart, removed.id))),
    );
    this.arm();
  }

  /** Stops sweeping; resolves once a sweep under way has finished its batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = Infinity;
    this.wakePause?.();
    await this.sweeping;
  }

  /** Why finished instances past their time are not being removed (the store refuses), until a batch goes through. */
  failure(): string | undefined {
    return this.problem;
  }

  /** Resolves `ms` later on the clock (at the next turn when not positive), or at once when stopped. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = this.options.clock.setTimeout(() => {
        this.wakePause = undefined;
        resolve();
      }, Math.max(0, ms));
      this.wakePause = () => {
        this.options.clock.clearTimeout(timer);
        resolve();
      };
    });
  }

  private note(snapshot: Snapshot): void {
    const key = instanceKey(snapshot.chart, snapshot.id);
    if (!isFinished(snapshot)) {
      this.finished.delete(key);
      return;
    }
    this.finished.add(key, finishedAt(snapshot));
    this.arm();
  }

  /** Sets the clock timer for the oldest finished instance's time, unless it is set for then or earlier already. */
  private arm(): void {
    if (this.stopped || this.sweeping) return;
    const oldest = this.finished.oldest();
    if (!oldest) return;
    const due = Math.max(oldest.at + this.options.afterMs, this.holdUntil);
    if (due >= this.wakeAt) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.wakeAt = due;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.wakeAt = Infinity;
      this.sweeping = this.sweep().finally(() => {
        this.sweeping = undefined;
        this.arm();
      });
    }, Math.min(MAX_WAIT_MS, due - this.options.clock.now()));
  }

  /**
   * Removes every instance whose time has come, a batch at a time and no faster than the rate allows. A batch is one
   * commit: one journal record and one place among the check-ins' commits in the store's next write, where as many
   * commits of their own would each wait for a write or make the store wait for them (store/gather.ts).
   */
  private async sweep(): Promise<void> {
    const { runtime, clock, log, afterMs } = this.options;
    const batchMs = (BATCH * 1000) / (this.options.perSecond ?? DEFAULT_REMOVALS_PER_SECOND);
    let removed = 0;
    while (!this.stopped) {
      const began = clock.now();
      const due = this.finished.take(BATCH, began - afterMs);
      if (!due.length) break;
      try {
        const done = await runtime.removeStoredTogether(due.map(({ key }) => key));
        removed += done.removed.length;
        this.problem = undefined;
        // Those with requests of their own under way wait for a later batch.
        this.finished.putBack(due.filter(({ key }) => done.busy.includes(key)));
      } catch (error) {
        const message = (error as Error).message;
        log.error({ instances: due.length, err: message, retryInMs: RETRY_MS }, 'could not remove finished instances past --retain-finished; trying again');
        this.problem = `could not remove finished instances past --retain-finished (${message}); trying again every ${RETRY_MS / 1000} s`;
        // Back in their place, and the whole sweep holds off: the store likely refuses the next ones too.
        this.finished.putBack(due);
        this.holdUntil = clock.now() + RETRY_MS;
        break;
      }
      // A full batch may have more behind it: the next waits for its share of the second, counted from this one's start.
      if (due.length === BATCH) await this.pause(began + batchMs - clock.now());
    }
    if (removed) log.info({ removed, olderThanMs: afterMs }, `removed ${removed} instance${removed === 1 ? '' : 's'} finished longer than --retain-finished ago`);
  }
}

/** When an instance finished: its last change, since nothing changes a finished instance but a restart. */
function finishedAt(snapshot: Snapshot): number {
  return Date.parse(snapshot.updatedAt);
}
