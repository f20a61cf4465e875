// A simulated Clock: time moves only when a test advances it, firing due timers in order as it goes.

import type { Clock, ClockTimer } from '../../src/runtime/clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

export class SimulatedClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(start = Date.UTC(2026, 10, 22, 6, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const seq = (this.seq += 1);
    this.pending.set(seq, { at: this.current + Math.max(0, ms), seq, callback });
    return { id: seq };
  }

  clearTimeout(timer: ClockTimer): void {
    this.pending.delete(timer.id as number);
  }

  /** Timers not yet fired. */
  get timers(): number {
    return this.pending.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time. Between timers it awaits
   * `settled` (by default one turn of the event loop; e.g. the runtime's whenIdle, so the timers a fired deadline's
   * commit arms fire too). Other I/O a timer starts is not waited for: a test waits for what it can observe.
   */
  async advance(ms: number, settled: () => Promise<unknown> = settle): Promise<void> {
    const end = this.current + ms;
    for (;;) {
      await settled();
      const next = [...this.pending.values()].filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending.delete(next.seq);
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.current = end;
    await settled();
  }
}

/** Lets pending promise callbacks run (a turn of the event loop, no wall-clock wait). */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}
