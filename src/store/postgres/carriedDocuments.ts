// Which changes a store's listeners may take with their documents, and which they must read back so what they keep never goes back.

import type { Change } from '../port.js';
import { documentId } from './readCache.js';

/** Marks kept before a barrier is sent just to expire them (a replica that writes and never reads). */
const MAX_MARKS = 10_000;

/**
 * A change heard from the feed stands where its commit stands in PostgreSQL's commit order; an answer read from
 * PostgreSQL, or a commit of this store as it lands, stands at the moment it was made, which may be ahead of what
 * the feed has delivered yet. A document a listener took from such an answer could be followed by a notification
 * of an older commit, so until the feed has caught up (a barrier sent after the answer is heard) the changes of
 * those documents reach listeners without their documents: they read them back, after the change, as before.
 */
export class CarriedDocuments {
  /** By document id, and by collection for pages and claims: the barrier whose return ends the mark. */
  private readonly read = new Map<string, number>();
  private readonly collections = new Map<string, number>();
  /** Documents this store's own commits left: later own commits come after them, only other replicas' may not. */
  private readonly landings = new Map<string, number>();
  /** Documents this store is committing, and whether another replica's change of one was heard meanwhile. */
  private readonly committing = new Map<string, { count: number; heard: boolean }>();

  constructor(private readonly upcoming: () => number, private readonly sendBarrier: () => void) {}

  /** A read of PostgreSQL answered these documents. */
  answered(collection: string, keys: readonly string[]): void {
    this.mark(this.read, keys.map((key) => documentId(collection, key)));
  }

  /** A page or claim of `collection` answered from PostgreSQL. */
  answeredCollection(collection: string): void {
    this.collections.set(collection, this.upcoming());
  }

  /** Barrier `number` was heard: every mark it ends is gone (marks are kept in the order of their barriers). */
  passed(number: number): void {
    for (const marks of [this.read, this.landings]) {
      for (const [id, until] of marks) {
        if (until > number) break;
        marks.delete(id);
      }
    }
    for (const [collection, until] of this.collections) if (until <= number) this.collections.delete(collection);
  }

  /** The feed was lost and is back: listeners read everything again, so nothing marked matters any longer. */
  reset(): void {
    this.read.clear();
    this.landings.clear();
    this.collections.clear();
  }

  /** This store is about to commit `ids`; call the answer once the commit has its outcome. */
  commit(ids: readonly string[]): () => void {
    for (const id of ids) {
      const entry = this.committing.get(id);
      if (entry) entry.count += 1;
      else this.committing.set(id, { count: 1, heard: false });
    }
    return () => {
      for (const id of ids) {
        const entry = this.committing.get(id)!;
        if ((entry.count -= 1) === 0) this.committing.delete(id);
      }
    };
  }

  /** Another replica's changes, as the feed delivers them: what listeners are told. */
  heard(changes: readonly Change[]): readonly Change[] {
    let told: Change[] | undefined;
    for (const [at, change] of changes.entries()) {
      const id = documentId(change.collection, change.key);
      const entry = this.committing.get(id);
      if (entry) entry.heard = true;
      const marked = this.read.has(id) || this.landings.has(id) || this.collections.has(change.collection);
      if (change.committed !== undefined && marked) (told ??= [...changes])[at] = { collection: change.collection, key: change.key };
    }
    return told ?? changes;
  }

  /**
   * This store's commit landed: its documents as it left them, except where another replica's change of one was
   * heard while committing (it may be the later one) or read from PostgreSQL lately. The documents are marked after.
   */
  landed(changes: readonly Change[]): readonly Change[] {
    const ids = changes.map((change) => documentId(change.collection, change.key));
    const told = changes.map((change, at) => {
      const doubtful = this.committing.get(ids[at]!)?.heard === true || this.read.has(ids[at]!) || this.collections.has(change.collection);
      return doubtful && change.committed !== undefined ? { collection: change.collection, key: change.key } : change;
    });
    this.mark(this.landings, ids);
    return told;
  }

  private mark(marks: Map<string, number>, ids: readonly string[]): void {
    const until = this.upcoming();
    for (const id of ids) {
      marks.delete(id);
      marks.set(id, until);
    }
    if (marks.size > MAX_MARKS) this.sendBarrier();
  }
}
