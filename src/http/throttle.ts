// Keeps a flood of one kind of log line to one line per interval, counting the ones it held back.

/** Lets one event through per interval and counts the ones it held back. */
export class Throttle {
  private last = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(private readonly intervalMs: number) {}

  /** How many were held back since the last one let through, or undefined when this one is held back too. */
  pass(now: number): number | undefined {
    if (now - this.last < this.intervalMs) {
      this.held += 1;
      return undefined;
    }
    const held = this.held;
    this.last = now;
    this.held = 0;
    return held;
  }
}
