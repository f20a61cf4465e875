// Read barriers: a NOTIFY this store commits and waits to hear back, so every commit made before it has been heard too.

import type { Clock, ClockTimer } from '../../runtime/clock.js';

/** Sends barrier `number` (commits its NOTIFY); resolves once committed. */
export type SendBarrier = (number: number) => Promise<void>;

interface Barrier {
  readonly number: number;
  readonly passed: Promise<boolean>;
  readonly settle: (heard: boolean) => void;
}

/**
 * PostgreSQL delivers notifications to a session in the order their transactions committed, so once this store's
 * change feed hears barrier n, every commit acknowledged before n was sent has been heard and applied. One barrier
 * in flight at a time: the reads that start meanwhile share the next, sent as soon as it comes back.
 */
export class ReadBarrier {
  private numbered = 0;
  private inFlight: Barrier | undefined;
  private next: Barrier | undefined;
  private timer: ClockTimer | undefined;
  /** Barriers sent and heard back, for stats. */
  readonly counts = { sent: 0, heard: 0, failed: 0 };

  constructor(private readonly send: SendBarrier, private readonly timeoutMs: number, private readonly timedOut: () => void, private readonly clock: Clock) {}

  /** True once a barrier sent after this call was heard; false when none could be (read PostgreSQL directly then). */
  pass(): Promise<boolean> {
    this.next ??= barrier((this.numbered += 1));
    const { passed } = this.next;
    if (!this.inFlight) this.start();
    return passed;
  }

  /** The number the next barrier sent will carry: hearing it means the feed is past everything committed before now. */
  upcoming(): number {
    return this.next?.number ?? this.numbered + 1;
  }

  /** The feed heard barrier `payload` back. */
  heard(payload: string): void {
    const number = Number(payload);
    if (this.inFlight?.number !== number) return;
    this.counts.heard += 1;
    this.finish(true);
  }

  /** The feed is lost: the barrier in flight will not be heard, and those waiting read PostgreSQL directly. */
  fail(): void {
    this.disarm();
    if (this.inFlight) this.counts.failed += 1;
    this.inFlight?.settle(false);
    this.next?.settle(false);
    this.inFlight = this.next = undefined;
  }

  private start(): void {
    const current = (this.inFlight = this.next!);
    this.next = undefined;
    this.counts.sent += 1;
    this.send(current.number).then(() => {
      // Timed from its commit, not its sending: a connection busy with an earlier statement is no sign of a feed gone deaf.
      if (this.inFlight !== current) return;
      this.timer = this.clock.setTimeout(() => {
        if (this.inFlight !== current) return;
        this.fail();
        this.timedOut();
      }, this.timeoutMs);
    }, () => {
      // PostgreSQL refused or is away: the reads go to it directly and meet the error themselves.
      if (this.inFlight === current) this.finish(false);
    });
  }

  private finish(heard: boolean): void {
    this.disarm();
    if (!heard) this.counts.failed += 1;
    this.inFlight!.settle(heard);
    this.inFlight = undefined;
    if (this.next) this.start();
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function barrier(number: number): Barrier {
  let settle!: (heard: boolean) => void;
  const passed = new Promise<boolean>((resolve) => (settle = resolve));
  return { number, passed, settle };
}
