// What a replica keeps in memory from a shared store, kept current from every replica's commits (the store's onChange).

import type { Change, Store, Stored } from '../store/port.js';

/** Reads one changed document again with `read` and updates what is kept of it; `read` may share one read, so call it before awaiting. */
export type KeyFollower = (key: string, read: () => Promise<Stored<unknown> | undefined>) => Promise<void>;
/** Reads a whole collection again: the change feed was lost for a while, so anything may have changed. */
export type CollectionFollower = () => Promise<void>;

interface Followed {
  readonly key: KeyFollower;
  readonly all: CollectionFollower;
}

/**
 * One read at a time per document: a change heard while its read runs reads it once more afterwards, so each read
 * starts after the change it answers was committed and what is kept never goes back to an older value. A change
 * that carries its document (this replica's commits; on PostgreSQL, every replica's) is taken as read, unless a read
 * is under way. The documents of one notification that carry none are read together.
 */
export class StoreFollower {
  private readonly followed = new Map<string, Followed>();
  /** Per document being read: whether a change was heard meanwhile. */
  private readonly reading = new Map<string, boolean>();
  /** Per collection being read whole: the documents changed meanwhile, read again once it is done. */
  private readonly rereading = new Map<string, Set<string>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly store: Store, private readonly warn: (problem: string) => void) {}

  follow(collection: string, key: KeyFollower, all: CollectionFollower): void {
    this.followed.set(collection, { key, all });
  }

  /** Listens from now on; call before the first reads, so no change made meanwhile is missed. */
  start(): void {
    this.unsubscribe ??= this.store.onChange((changes) => this.heard(changes));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Reads `collection` whole (at start, or after the feed was lost); its documents changed meanwhile are read again after. */
  async resync(collection: string): Promise<void> {
    const followed = this.followed.get(collection);
    if (!followed || this.rereading.has(collection)) return;
    const changed = new Set<string>();
    this.rereading.set(collection, changed);
    try {
      await followed.all();
    } finally {
      this.rereading.delete(collection);
      for (const key of changed) this.touch(collection, key);
    }
  }

  /** `collection`/`key` changed: read it again (with `first`, if given), now or once the read under way ends. */
  touch(collection: string, key: string, first?: () => Promise<Stored<unknown> | undefined>): void {
    const followed = this.followed.get(collection);
    if (!followed) return;
    this.rereading.get(collection)?.add(key);
    const id = `${collection}\u0000${key}`;
    if (this.reading.has(id)) {
      this.reading.set(id, true);
      return;
    }
    this.reading.set(id, false);
    this.read(id, collection, key, followed.key, first).then(undefined, (error: unknown) => this.warn(`following ${collection}/${key} failed: ${String(error)}`));
  }

  private heard(changes: readonly Change[]): void {
    if (changes.length === 0) {
      for (const collection of this.followed.keys()) {
        this.resync(collection).then(undefined, (error: unknown) => this.warn(`reading ${collection} again failed: ${(error as Error).message}`));
      }
      return;
    }
    const unread = new Map<string, Set<string>>();
    for (const { collection, key, committed } of changes) {
      if (committed !== undefined) this.touch(collection, key, () => Promise.resolve(committed ?? undefined));
      else if (this.followed.has(collection)) unread.set(collection, (unread.get(collection) ?? new Set()).add(key));
    }
    for (const [collection, keys] of unread) {
      // Made by the first follower that reads, so it starts after whatever the followers (reading at once) did first.
      let together: Promise<Map<string, Stored<unknown>>> | undefined;
      const read = (key: string) => async () => (await (together ??= this.store.getMany(collection, [...keys]))).get(key);
      for (const key of keys) this.touch(collection, key, read(key));
    }
  }

  private async read(id: string, collection: string, key: string, follow: KeyFollower, first: (() => Promise<Stored<unknown> | undefined>) | undefined): Promise<void> {
    for (let read = first; ; read = undefined) {
      try {
        await follow(key, read ?? (() => this.store.get(collection, key)));
      } catch (error) {
        // The change feed's loss (and its return) is what a store away brings; its return reads everything again.
        this.warn(`could not read ${collection}/${key} after another replica changed it: ${(error as Error).message}`);
      }
      if (!this.reading.get(id)) {
        this.reading.delete(id);
        return;
      }
      this.reading.set(id, false);
    }
  }
}
