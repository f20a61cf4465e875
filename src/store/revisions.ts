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
  /**
   * By collection, then key: looking a document up by its own two strings, whose hashes V8 keeps on them, costs
   * less on every commit than a key joined from them, a new string hashed again at each of the three steps.
   */
  private readonly pending = new Map<string, Map<string, Pending>>();

  /** `committed` answers a document's revision in memory (0 = absent). */
  constructor(private readonly committed: (collection: string, key: string) => number) {}

  /** Whether a commit accepted and not yet landed writes the document. */
  isPending(collection: string, key: string): boolean {
    return this.pending.get(collection)?.has(key) ?? false;
  }

  /**
   * The writes whose expectation does not hold against what every accepted commit will have made of their
   * documents, each write seeing the commit's earlier writes as applied.
   */
  conflicts(writes: readonly Write[]): Write[] {
    let conflicts: Write[] | undefined;
    const own = writes.length > 1 ? new Map<string, number>() : undefined;
    for (const write of writes) {
      if (write.expect === undefined && !own) continue;
      const id = own ? idOf(write.collection, write.key) : '';
      const revision = own?.get(id) ?? this.current(write.collection, write.key);
      if (write.expect !== undefined && write.expect !== revision) (conflicts ??= []).push(write);
      own?.set(id, write.value === null ? 0 : revision + 1);
    }
    return conflicts ?? [];
  }

  /** Records what an accepted commit's writes will give their documents. */
  accept(entries: readonly Entry[]): void {
    for (const [collection, key, value] of entries) {
      let documents = this.pending.get(collection);
      if (!documents) this.pending.set(collection, (documents = new Map()));
      const pending = documents.get(key);
      const revision = value === null ? 0 : (pending?.revision ?? this.committed(collection, key)) + 1;
      if (pending) {
        pending.revision = revision;
        pending.writers += 1;
      } else {
        documents.set(key, { revision, writers: 1 });
      }
    }
  }

  /** An accepted commit's writes are in memory now: memory answers for documents nothing else pending writes. */
  landed(entries: readonly Entry[]): void {
    for (const [collection, key] of entries) {
      const documents = this.pending.get(collection)!;
      const pending = documents.get(key)!;
      if (--pending.writers === 0) documents.delete(key);
    }
  }

  /** Commits were refused after being accepted: counts again from memory and the commits still on their way, in order. */
  reset(survivors: Iterable<readonly Entry[]>): void {
    this.pending.clear();
    for (const entries of survivors) this.accept(entries);
  }

  private current(collection: string, key: string): number {
    return this.pending.get(collection)?.get(key)?.revision ?? this.committed(collection, key);
  }
}

/** One string per document, for maps keyed by document. */
export function idOf(collection: string, key: string): string {
  return `${collection}\u0000${key}`;
}
