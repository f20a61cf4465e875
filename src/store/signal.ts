// A wake-up for everything waiting on the next change of some state.

/** Wakes everything waiting for the next change of state; all waiters share one promise. */
export class Signal {
  private waiting: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  next(): Promise<void> {
    return (this.waiting ??= new Promise((resolve) => {
      this.wake = resolve;
    }));
  }

  notify(): void {
    const wake = this.wake;
    this.waiting = undefined;
    this.wake = undefined;
    wake?.();
  }
}
