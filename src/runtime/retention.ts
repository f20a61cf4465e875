// --retain-finished: finished instances are removed once they have been finished that long, paced, as a background service.

import type { Logger } from 'pino';
import { isFinished, type Snapshot } from '../engine/snapshot.js';
import { Conflict, NotFound } from '../errors.js';
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
/** Removals on their way to the store at once, at most: enough to keep up a high rate while each commit waits for its write. */
const IN_FLIGHT = 4;
/** How long removals the store refused wait before they are tried again. */
const RETRY_MS = 10_000;

export interface RetentionOptions {
  readonly runtime: Runtime;
  readonly clock: Clock;
  readonly log: Logger;
  /** Every instance stored, read at each start. */
  stored(): Iterable<Snapshot>;
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
  /** Why the last removal failed, until a later one succeeds. */
  private problem: string | undefined;
  /** After a removal failed, the sweep waits until then: the store refuses it, and likely the next ones too. */
  private holdUntil = -Infinity;

  constructor(private readonly options: RetentionOptions) {}

  /** Learns of every finished instance stored, then follows each change; the first sweep is due at the oldest's time. */
  async start(): Promise<void> {
    this.stopped = false;
    this.problem = undefined;
    this.holdUntil = -Infinity;
    this.finished.clear();
    const found = [...this.options.stored()].filter(isFinished).map((snapshot) => [instanceKey(snapshot.chart, snapshot.id), finishedAt(snapshot)] as const);
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
   * Removes every instance whose time has come, no faster than the rate allows. Each removal is a commit of its own
   * that joins the journal write of the check-ins of the moment, and only a few are in flight at once: many at once
   * would make the store wait for as many commits in each write (store/gather.ts) and slow every check-in meanwhile.
   */
  private async sweep(): Promise<void> {
    const { clock, log, afterMs } = this.options;
    const spacingMs = 1000 / (this.options.perSecond ?? DEFAULT_REMOVALS_PER_SECOND);
    const inFlight = new Set<Promise<void>>();
    let removed = 0;
    let last = -Infinity;
    for (let oldest = this.due(); oldest; oldest = this.due()) {
      const wait = last + spacingMs - clock.now();
      if (wait > 0 || inFlight.size >= IN_FLIGHT) {
        await (wait > 0 ? this.pause(wait) : Promise.race(inFlight));
        // Restarted or removed meanwhile, a removal refused, or stopped: look again.
        continue;
      }
      last = clock.now();
      this.finished.delete(oldest.key);
      const removal = this.remove(oldest).then((done) => {
        removed += done ? 1 : 0;
        inFlight.delete(removal);
      });
      inFlight.add(removal);
    }
    await Promise.all(inFlight);
    if (removed) log.info({ removed, olderThanMs: afterMs }, `removed ${removed} instance${removed === 1 ? '' : 's'} finished longer than --retain-finished ago`);
  }

  /** Removes one; false when it was restarted or deleted meanwhile, or the store refused (the sweep then holds off). */
  private async remove(oldest: { readonly key: string; readonly at: number }): Promise<boolean> {
    try {
      await this.options.runtime.removeStored(oldest.key);
      this.problem = undefined;
      return true;
    } catch (error) {
      if (error instanceof NotFound || (error instanceof Conflict && error.code === 'instance_active')) return false;
      const message = (error as Error).message;
      this.options.log.error({ instance: oldest.key, err: message, retryInMs: RETRY_MS }, 'could not remove a finished instance past --retain-finished; trying again');
      this.problem = `could not remove finished instances past --retain-finished (${message}); trying again every ${RETRY_MS / 1000} s`;
      // Back in the queue with its time, and the whole sweep holds off: the store likely refuses the next ones too.
      this.finished.add(oldest.key, oldest.at);
      this.holdUntil = this.options.clock.now() + RETRY_MS;
      return false;
    }
  }

  /** The oldest finished instance if its time has come and the sweep goes on. */
  private due(): { readonly key: string; readonly at: number } | undefined {
    const oldest = this.finished.oldest();
    const now = this.options.clock.now();
    if (this.stopped || !oldest || oldest.at > now - this.options.afterMs || now < this.holdUntil) return undefined;
    return oldest;
  }
}

/** When an instance finished: its last change, since nothing changes a finished instance but a restart. */
function finishedAt(snapshot: Snapshot): number {
  return Date.parse(snapshot.updatedAt);
}
