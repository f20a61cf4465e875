// Claims of due work on the embedded store: leases held in memory (one process serves it), epochs that only grow.

import type { Collection } from './collection.js';
import type { Entry } from './journal.js';
import type { ClaimQuery, Fence, Lease, Stored } from './port.js';
import { idOf } from './revisions.js';

interface Held {
  readonly owner: string;
  readonly epoch: number;
  until: number;
}

export class Leases {
  private readonly held = new Map<string, Held>();
  private lastEpoch = 0;

  /**
   * The documents of `collection` whose numeric `due` is at most `now`, not leased (or whose lease ran out) and
   * with no write on its way (`busy`), soonest due first, each leased to `owner` under a new epoch. A scan of
   * the collection: claimable work is a small collection.
   */
  claim<T>(name: string, collection: Collection | undefined, { owner, now, leaseMs, limit }: ClaimQuery, busy: (key: string) => boolean): (Stored<T> & { lease: Lease })[] {
    if (!collection || limit < 1) return [];
    const due: { stored: Stored<unknown>; at: number }[] = [];
    for (const stored of collection.docs.values()) {
      const at = dueOf(stored.value);
      if (at === undefined || at > now || busy(stored.key)) continue;
      const lease = this.held.get(idOf(name, stored.key));
      if (lease && lease.until > now) continue;
      due.push({ stored, at });
    }
    due.sort((a, b) => a.at - b.at || (a.stored.key < b.stored.key ? -1 : 1));
    return due.slice(0, limit).map(({ stored }) => {
      const lease = { owner, epoch: ++this.lastEpoch };
      this.held.set(idOf(name, stored.key), { ...lease, until: now + leaseMs });
      return { ...(stored as Stored<T>), lease };
    });
  }

  /** Moves the leases `owner` holds on `keys` to `until`; answers the keys still held. */
  renew(collection: string, keys: readonly string[], { owner, until }: { owner: string; until: number }): string[] {
    return keys.filter((key) => {
      const lease = this.held.get(idOf(collection, key));
      if (lease?.owner !== owner) return false;
      lease.until = until;
      return true;
    });
  }

  /** Whether the fence's claim is still the document's lease (a newer claim, or a write, ends it). */
  holds({ collection, key, lease }: Fence): boolean {
    const held = this.held.get(idOf(collection, key));
    return held !== undefined && held.owner === lease.owner && held.epoch === lease.epoch;
  }

  /** Writing a document ends its lease. */
  end(entries: readonly Entry[]): void {
    if (this.held.size) for (const [collection, key] of entries) this.held.delete(idOf(collection, key));
  }
}

function dueOf(value: unknown): number | undefined {
  const due = typeof value === 'object' && value !== null ? (value as { due?: unknown }).due : undefined;
  return typeof due === 'number' && Number.isFinite(due) ? due : undefined;
}
