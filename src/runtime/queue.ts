// Per-key serialization with batching: while one batch of a key commits, the next one gathers.

import { gather } from '../gather.js';

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/** Handles every item of one batch; must return one result per item, in order, or throw for all. */
export type BatchHandler<I, R> = (key: string, items: readonly I[]) => Promise<R[]>;

export class KeyedQueue<I, R> {
  private readonly waiting = new Map<string, Pending<I, R>[]>();
  private readonly busy = new Set<string>();
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

  /** Resolves once no key has work queued or running. */
  whenIdle(): Promise<void> {
    if (this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private async drain(key: string): Promise<void> {
    this.busy.add(key);
    try {
      for (let batch = this.take(key); batch.length; ) {
        try {
          const results = await this.handle(key, batch.map((pending) => pending.item));
          batch.forEach((pending, index) => pending.resolve(results[index] as R));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
        // Only when callers came in numbers: a lone caller's next request is not worth waiting for.
        const concurrency = batch.length + (this.waiting.get(key)?.length ?? 0);
        if (concurrency > 1) await gather(() => this.waiting.get(key)?.length ?? 0, concurrency);
        batch = this.take(key);
      }
    } finally {
      this.busy.delete(key);
      if (this.busy.size === 0) {
        for (const resolve of this.idle) resolve();
        this.idle.clear();
      }
    }
  }

  private take(key: string): Pending<I, R>[] {
    const list = this.waiting.get(key) ?? [];
    this.waiting.delete(key);
    return list;
  }
}
