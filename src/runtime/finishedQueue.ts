// Finished instances in the order they finished, for retention: the oldest first, found in constant time however many went before.

export interface Entry {
  readonly key: string;
  readonly at: number;
}

/**
 * A Map keeps its order too, but V8 leaves a hole for each entry deleted until the table shrinks, and every walk from
 * the start steps over them: taking the oldest of 100,000 one after another would cost more with each one taken.
 */
export class FinishedQueue {
  /** When each instance finished; an entry of `order` that disagrees was deleted or added again since. */
  private readonly finishedAt = new Map<string, number>();
  private order: Entry[] = [];
  private head = 0;

  /** The instance finished at `at` (again, if it was restarted meanwhile): it goes to the end. */
  add(key: string, at: number): void {
    this.finishedAt.set(key, at);
    this.order.push({ key, at });
  }

  delete(key: string): void {
    this.finishedAt.delete(key);
  }

  clear(): void {
    this.finishedAt.clear();
    this.order = [];
    this.head = 0;
  }

  /** Takes up to `limit` of the oldest, those that finished at `cutoff` or before. */
  take(limit: number, cutoff: number): Entry[] {
    const taken: Entry[] = [];
    for (let oldest = this.oldest(); oldest && oldest.at <= cutoff && taken.length < limit; oldest = this.oldest()) {
      taken.push(oldest);
      this.finishedAt.delete(oldest.key);
    }
    return taken;
  }

  /** Puts entries taken back in front, in their order (a removal refused, or left for later), unless added again since. */
  putBack(entries: readonly Entry[]): void {
    const back = entries.filter(({ key }) => !this.finishedAt.has(key));
    if (!back.length) return;
    for (const { key, at } of back) this.finishedAt.set(key, at);
    this.order = [...back, ...this.order.slice(this.head)];
    this.head = 0;
  }

  /** The first added and neither deleted nor added again since. */
  oldest(): Entry | undefined {
    while (this.head < this.order.length) {
      const entry = this.order[this.head]!;
      if (this.finishedAt.get(entry.key) === entry.at) return entry;
      this.head += 1;
      // The entries passed are dropped now and then, in one copy of those left.
      if (this.head >= 1024 && this.head * 2 >= this.order.length) {
        this.order = this.order.slice(this.head);
        this.head = 0;
      }
    }
    return undefined;
  }
}
