// Per-key serialization with batching: one batch of a key is built at a time, in order, each on the one before.

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Handles every item of one batch; must return one result per item, in order, or throw for all. It calls
 * `handed` once the batch's change is on its way to the store (its write has begun): the next batch of the same key may start then,
 * without waiting for this one's results, and must build on it (which may still fail).
 */
export type BatchHandler<I, R> = (key: string, items: readonly I[], handed: () => void) => Promise<R[]>;

/**
 * Batches of one key handed to the store and not yet answered, at most: like the store's writes in flight, a
 * few at once keep the disk busy while the next batch gathers what arrives meanwhile, one item or many.
 */
const MAX_HANDED = 3;

export class KeyedQueue<I, R> {
  private readonly waiting = new Map<string, Pending<I, R>[]>();
  private readonly busy = new Set<string>();
  private unanswered = 0;
  private readonly idle = new Set<() => void>();

  constructor(private readonly handle: BatchHandler<I, R>) {}

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ item, resolve, reject });
      else this.waiting.set(key, [{ item, resolve, reject }]);
      if (!this.busy.has(key)) void this.drain(key);
    });
  }

  /** Whether `key` has work queued or a batch being built (its last batch's commit may still be on its way). */
  has(key: string): boolean {
    return this.busy.has(key) || this.waiting.has(key);
  }

  /** Resolves once no key has work queued, running or waiting for its results. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private async drain(key: string): Promise<void> {
    this.busy.add(key);
    let unanswered = 0;
    let answeredOne: (() => void) | undefined;
    try {
      for (let batch = this.take(key); batch.length; ) {
        unanswered += 1;
        // One promise a batch: `handed` or the batch's answers, whichever comes first, lets the next one start.
        await new Promise<void>((proceed) => {
          void this.answer(key, batch, proceed).then(() => {
            unanswered -= 1;
            proceed();
            answeredOne?.();
          });
        });
        while (unanswered >= MAX_HANDED) await new Promise<void>((resolve) => (answeredOne = resolve));
        answeredOne = undefined;
        batch = this.take(key);
      }
    } finally {
      this.busy.delete(key);
      this.checkIdle();
    }
  }

  /** Runs the handler on one batch; resolves (never rejects) once every caller in it has its answer. */
  private async answer(key: string, batch: readonly Pending<I, R>[], handed: () => void): Promise<void> {
    this.unanswered += 1;
    try {
      const results = await this.handle(key, batch.map((pending) => pending.item), handed);
      batch.forEach((pending, index) => pending.resolve(results[index] as R));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.unanswered -= 1;
      this.checkIdle();
    }
  }

  private take(key: string): Pending<I, R>[] {
    const list = this.waiting.get(key) ?? [];
    this.waiting.delete(key);
    return list;
  }

  private isIdle(): boolean {
    return this.busy.size === 0 && this.unanswered === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idle) resolve();
    this.idle.clear();
  }
}
