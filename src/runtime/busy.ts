// Work a background worker has under way (claims, reads, commits, not its waits), so tests on a simulated clock move time only once it settled.

export class Busy {
  private readonly work = new Set<Promise<void>>();

  /** Counts `work` as under way until it settles; answers it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(() => undefined, () => undefined);
    this.work.add(settled);
    void settled.then(() => this.work.delete(settled));
    return work;
  }

  /** Waits until nothing tracked is under way, work begun meanwhile included; answers whether anything was. */
  async settled(): Promise<boolean> {
    if (!this.work.size) return false;
    while (this.work.size) await Promise.all([...this.work]);
    return true;
  }

  /** As settled(), a turn of the event loop first (for work just due to begin), and `also` awaited with each round. */
  async idle(also: () => Promise<void> = async () => {}): Promise<void> {
    do {
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all([...this.work, also()]);
    } while (this.work.size);
  }
}
