// Long-poll waiters: parked per instance, checked only when that instance changes.

import type { Snapshot } from '../engine/snapshot.js';
import type { Clock } from './clock.js';

interface Waiter {
  /** Registration order: a snapshot read before the waiter was registered may be older than the one it was checked on. */
  readonly seq: number;
  readonly until: (snapshot: Snapshot) => boolean;
  readonly resolve: (snapshot: Snapshot | undefined) => void;
}

export class Waiters {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private registered = 0;

  /** The wait's limit runs on `clock`, so a simulated one moves it. */
  constructor(private readonly clock: Clock) {}

  /** Resolves with the snapshot that satisfied `until`, or undefined when `ms` ran out or `signal` aborted. */
  wait(key: string, until: (snapshot: Snapshot) => boolean, ms: number, signal?: AbortSignal): Promise<Snapshot | undefined> {
    return new Promise((resolve) => {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      const finish = (snapshot: Snapshot | undefined): void => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(waiter);
        if (set!.size === 0) this.byKey.delete(key);
        resolve(snapshot);
      };
      const waiter: Waiter = { seq: ++this.registered, until, resolve: finish };
      const onAbort = (): void => finish(undefined);
      const timer = this.clock.setTimeout(() => finish(undefined), ms);
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Taken before reading a snapshot to notify with: only waiters registered by then are told of it. */
  mark(): number {
    return this.registered;
  }

  /** `snapshot` was committed; `mark` (from mark()) when it was read from the store rather than just committed. */
  notify(key: string, snapshot: Snapshot, mark = this.registered): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const waiter of [...set]) if (waiter.seq <= mark && waiter.until(snapshot)) waiter.resolve(snapshot);
  }

  /** The instances waited on. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  get count(): number {
    let total = 0;
    for (const set of this.byKey.values()) total += set.size;
    return total;
  }

  /** Releases the waiters of one instance (it was removed): each answers with what it finds now. */
  release(key: string): void {
    for (const waiter of [...(this.byKey.get(key) ?? [])]) waiter.resolve(undefined);
  }

  /** Releases every waiter (on shutdown) so no request hangs. */
  releaseAll(): void {
    for (const set of this.byKey.values()) for (const waiter of [...set]) waiter.resolve(undefined);
  }
}
