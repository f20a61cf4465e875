// Linearizable reads from memory: documents kept from the change feed, answered once a read barrier has come back.

import type { Clock } from '../../runtime/clock.js';
import type { Change, Stored } from '../port.js';
import { CarriedDocuments } from './carriedDocuments.js';
import type { FeedObserver } from './changeFeed.js';
import type { Heard } from './changes.js';
import { ReadBarrier, type SendBarrier } from './readBarrier.js';
import { documentId, ReadCache } from './readCache.js';

/** Reads `keys` of `collection` from PostgreSQL: those that exist, by key. */
export type QueryDocuments = (collection: string, keys: readonly string[]) => Promise<Map<string, Stored<unknown>>>;

export interface CachedReadsOptions {
  /** Documents kept, at most (missing ones count too); the least recently used go first. */
  readonly entries: number;
  /** A barrier not heard back within this long means the feed cannot be trusted: it is dropped and listens again. */
  readonly barrierTimeoutMs: number;
  readonly clock: Clock;
}

/**
 * A read that finds its document kept waits for the next barrier, then answers from memory; one that does not
 * reads PostgreSQL (itself linearizable) and keeps what it found, unless a change of it was heard meanwhile.
 * Changes are applied in the order the feed delivers them, this store's own included (applying its commits as they
 * land could put one back over a later commit of another replica heard first). While the feed is lost nothing is
 * kept and every read goes to PostgreSQL.
 */
export class CachedReads implements FeedObserver {
  private live = false;
  private readonly cache: ReadCache;
  private readonly barriers: ReadBarrier;
  readonly carried: CarriedDocuments;
  readonly counts = { hits: 0, misses: 0, direct: 0 };

  constructor(private readonly origin: string, private readonly query: QueryDocuments, send: SendBarrier, options: CachedReadsOptions, abandonFeed: (why: string) => void) {
    this.cache = new ReadCache(options.entries);
    this.barriers = new ReadBarrier(send, options.barrierTimeoutMs, () => {
      this.lost();
      abandonFeed(`a read barrier did not come back within ${options.barrierTimeoutMs} ms`);
    }, options.clock);
    this.carried = new CarriedDocuments(() => this.barriers.upcoming(), () => void this.barriers.pass());
  }

  get<T>(collection: string, key: string): Promise<Stored<T> | undefined> {
    if (!this.live) return this.direct(collection, [key]).then((found) => found.get(key) as Stored<T> | undefined);
    const id = documentId(collection, key);
    const reading = this.cache.look(id) === undefined ? this.fetch(collection, [key]) : this.keptAfterBarrier(collection, [key]);
    return reading.then((found) => found.get(key) as Stored<T> | undefined);
  }

  async getMany<T>(collection: string, keys: readonly string[]): Promise<Map<string, Stored<T>>> {
    if (!this.live) return (await this.direct(collection, keys)) as Map<string, Stored<T>>;
    const kept: string[] = [];
    const unkept: string[] = [];
    for (const key of keys) (this.cache.look(documentId(collection, key)) === undefined ? unkept : kept).push(key);
    // Both halves are awaited together, so a refused read of one is never left unheard while the other waits.
    const parts = await Promise.all([unkept.length ? this.fetch(collection, unkept) : undefined, kept.length ? this.keptAfterBarrier(collection, kept) : undefined]);
    const found = new Map<string, Stored<unknown>>();
    for (const part of parts) if (part) for (const [key, document] of part) found.set(key, document);
    return found as Map<string, Stored<T>>;
  }

  /** `keys`, all kept, as they stand once the next barrier has come back; any no longer kept by then are read. */
  private async keptAfterBarrier(collection: string, keys: readonly string[]): Promise<Map<string, Stored<unknown>>> {
    const passed = await this.barriers.pass();
    const found = new Map<string, Stored<unknown>>();
    const missed: string[] = [];
    for (const key of keys) {
      const document = passed ? this.cache.look(documentId(collection, key)) : undefined;
      if (document === undefined) missed.push(key);
      else if (document) found.set(key, document);
      if (document !== undefined) this.counts.hits += 1;
    }
    if (missed.length) for (const [key, document] of await this.fetch(collection, missed)) found.set(key, document);
    return found;
  }

  /** Reads PostgreSQL and keeps what it found, unless a change of one of `keys` was heard meanwhile. */
  private async fetch(collection: string, keys: readonly string[]): Promise<Map<string, Stored<unknown>>> {
    this.counts.misses += keys.length;
    const ids = keys.map((key) => documentId(collection, key));
    const fill = this.cache.startFill(ids);
    let found: Map<string, Stored<unknown>>;
    try {
      found = await this.query(collection, keys);
    } catch (error) {
      this.cache.drop(fill, ids);
      throw error;
    }
    this.cache.fill(fill, ids, keys.map((key) => found.get(key) ?? null));
    this.carried.answered(collection, keys);
    return found;
  }

  private direct(collection: string, keys: readonly string[]): Promise<Map<string, Stored<unknown>>> {
    this.counts.direct += keys.length;
    return this.query(collection, keys);
  }

  /** Documents kept now, and the barriers sent and heard back. */
  stats(): { readonly entries: number; readonly hits: number; readonly misses: number; readonly direct: number; readonly barriers: { readonly sent: number; readonly heard: number; readonly failed: number } } {
    return { entries: this.cache.size, ...this.counts, barriers: { ...this.barriers.counts } };
  }

  heard({ origin, changes }: Heard): readonly Change[] {
    if (changes.length === 0) this.cache.clear();
    for (const { collection, key, committed } of changes) this.cache.apply(documentId(collection, key), committed);
    return origin === this.origin ? changes : this.carried.heard(changes);
  }

  barrier(payload: string): void {
    this.barriers.heard(payload);
    this.carried.passed(Number(payload));
  }

  lost(): void {
    this.live = false;
    this.cache.clear();
    this.barriers.fail();
  }

  back(): void {
    this.cache.clear();
    this.carried.reset();
    this.live = true;
  }
}
