// --retain-finished: finished instances are removed once they have been finished that long, a few at a time, as a background service.

import type { Logger } from 'pino';
import { isFinished, type Snapshot } from '../engine/snapshot.js';
import { Conflict, NotFound } from '../errors.js';
import type { Clock, ClockTimer } from './clock.js';
import { instanceKey, type Runtime } from './runtime.js';

/** Removals handed to the store at once: they share a journal write with the check-ins of the moment, so a few. */
const BATCH = 16;
/**
 * The most removals a second unless --retain-finished-rate says otherwise. A backlog removed back to back takes CPU and
 * journal writes from the check-ins of the moment (bench/retention.mjs); at this rate it takes a few per cent of a
 * PUT load's CPU, and 100,000 are gone in under nine minutes.
 */
export const DEFAULT_REMOVALS_PER_SECOND = 200;
/** The longest a clock timer waits before looking again (timers cannot wait longer than about 24 days). */
const MAX_WAIT_MS = 24 * 60 * 60 * 1000;
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
  /** Finished instances by key, with when they finished, kept in the order they finished: the first is due first. */
  private readonly finished = new Map<string, number>();
  private timer: ClockTimer | undefined;
  private wakeAt = Infinity;
  private sweeping: Promise<void> | undefined;
  /** Ends a sweep's pause early, when stopping. */
  private wakePause: (() => void) | undefined;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  /** Why the last removals failed, until a later batch succeeds. */
  private problem: string | undefined;

  constructor(private readonly options: RetentionOptions) {}

  /** Learns of every finished instance stored, then follows each change; the first sweep is due at the oldest's time. */
  async start(): Promise<void> {
    this.stopped = false;
    this.problem = undefined;
    this.finished.clear();
    const found = (await this.options.stored()).filter(isFinished).map((snapshot) => [instanceKey(snapshot.chart, snapshot.id), finishedAt(snapshot)] as const);
    for (const [key, at] of found.sort((a, b) => a[1] - b[1])) this.finished.set(key, at);
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
    // Deleted first so the key goes to the end: the order stays the order of finishing.
    this.finished.delete(key);
    if (!isFinished(snapshot)) return;
    this.finished.set(key, finishedAt(snapshot));
    this.arm();
  }

  /** Sets the clock timer for the oldest finished instance's time, unless it is set for then or earlier already. */
  private arm(): void {
    if (this.stopped || this.sweeping) return;
    const oldest = this.finished.values().next();
    if (oldest.done) return;
    const due = oldest.value + this.options.afterMs;
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

  /** Removes every instance whose time has come, a batch at a time, no faster than the rate allows. */
  private async sweep(): Promise<void> {
    const { runtime, clock, log, afterMs } = this.options;
    const perSecond = this.options.perSecond ?? DEFAULT_REMOVALS_PER_SECOND;
    let removed = 0;
    for (;;) {
      const began = clock.now();
      const cutoff = clock.now() - afterMs;
      const due: string[] = [];
      for (const [key, at] of this.finished) {
        // In order of finishing, so the first one not due ends the search; a clock set back delays a few, no more.
        if (at > cutoff || due.length === BATCH) break;
        due.push(key);
      }
      if (due.length === 0 || this.stopped) break;
      for (const key of due) this.finished.delete(key);
      const results = await Promise.allSettled(due.map((key) => runtime.removeStored(key)));
      const failed = results.flatMap((result, index) => (result.status === 'rejected' ? [{ key: due[index]!, error: result.reason as Error }] : []));
      removed += due.length - failed.length;
      // Restarted or deleted meanwhile: nothing left to remove. Anything else (a full disk) is tried again later.
      const retry = failed.filter(({ error }) => !(error instanceof NotFound || (error instanceof Conflict && error.code === 'instance_active')));
      if (retry.length) {
        const message = retry[0]!.error.message;
        log.error({ instances: retry.length, err: message, retryInMs: RETRY_MS }, 'could not remove finished instances past --retain-finished; trying again');
        this.problem = `could not remove ${retry.length} finished instance${retry.length === 1 ? '' : 's'} past --retain-finished (${message}); trying again every ${RETRY_MS / 1000} s`;
        for (const { key } of retry) this.finished.set(key, cutoff + RETRY_MS);
        break;
      }
      this.problem = undefined;
      // A full batch may have more behind it: the next waits for its share of the second, counted from this one's start.
      if (due.length === BATCH) await this.pause(began + (BATCH * 1000) / perSecond - clock.now());
    }
    if (removed) log.info({ removed, olderThanMs: afterMs }, `removed ${removed} instance${removed === 1 ? '' : 's'} finished longer than --retain-finished ago`);
  }
}

/** When an instance finished: its last change, since nothing changes a finished instance but a restart. */
function finishedAt(snapshot: Snapshot): number {
  return Date.parse(snapshot.updatedAt);
}
