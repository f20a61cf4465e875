// The revisions documents will have once the commits on their way to disk land, so a commit may build on one in flight.

import type { Entry } from './journal.js';
import type { Write } from './port.js';

interface Pending {
  /** What the newest accepted commit writing the document gives it: 0 = deleted. */
  revision: number;
  /** Accepted commits writing it that have not landed yet. */
  writers: number;
}

export class Revisions {
  private readonly pending = new Map<string, Pending>();

  /** `committed` answers a document's revision in memory (0 = absent). */
  constructor(private readonly committed: (collection: string, key: string) => number) {}

  /** Whether a commit accepted and not yet landed writes the document. */
  isPending(collection: string, key: string): boolean {
    return this.pending.has(idOf(collection, key));
  }

  /**
   * The writes whose expectation does not hold against what every accepted commit will have made of their
   * documents, each write seeing the commit's earlier writes as applied.
   */
  conflicts(writes: readonly Write[]): Write[] {
    const conflicts: Write[] = [];
    const own = writes.length > 1 ? new Map<string, number>() : undefined;
    for (const write of writes) {
      const id = idOf(write.collection, write.key);
      if (write.expect !== undefined && write.expect !== (own?.get(id) ?? this.current(id, write))) conflicts.push(write);
      own?.set(id, write.value === null ? 0 : (own.get(id) ?? this.current(id, write)) + 1);
    }
    return conflicts;
  }

  /** Records what an accepted commit's writes will give their documents. */
  accept(entries: readonly Entry[]): void {
    for (const [collection, key, value] of entries) {
      const id = idOf(collection, key);
      const pending = this.pending.get(id);
      const revision = value === null ? 0 : (pending?.revision ?? this.committed(collection, key)) + 1;
      if (pending) {
        pending.revision = revision;
        pending.writers += 1;
      } else {
        this.pending.set(id, { revision, writers: 1 });
      }
    }
  }

  /** An accepted commit's writes are in memory now: memory answers for documents nothing else pending writes. */
  landed(entries: readonly Entry[]): void {
    for (const [collection, key] of entries) {
      const id = idOf(collection, key);
      const pending = this.pending.get(id)!;
      if (--pending.writers === 0) this.pending.delete(id);
    }
  }

  /** Commits were refused after being accepted: counts again from memory and the commits still on their way, in order. */
  reset(survivors: Iterable<readonly Entry[]>): void {
    this.pending.clear();
    for (const entries of survivors) this.accept(entries);
  }

  private current(id: string, { collection, key }: Write): number {
    return this.pending.get(id)?.revision ?? this.committed(collection, key);
  }
}

/** One string per document, for maps keyed by document. */
export function idOf(collection: string, key: string): string {
  return `${collection}\u0000${key}`;
}
