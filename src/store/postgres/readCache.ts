// The documents a PostgreSQL store answers reads from: kept in change-feed order, bounded, least recently used out.

import type { Stored } from '../port.js';

/** A read from PostgreSQL under way: it may fill the cache only if no change of its documents was heard meanwhile. */
export interface Fill {
  stale: boolean;
}

export class ReadCache {
  /** By collection NUL key: the document, or null when known not to exist. Map order is recency: oldest first. */
  private readonly entries = new Map<string, Stored<unknown> | null>();
  private readonly filling = new Map<string, Set<Fill>>();

  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The document (null: known missing), or undefined when not kept. */
  look(id: string): Stored<unknown> | null | undefined {
    const found = this.entries.get(id);
    if (found === undefined) return undefined;
    this.entries.delete(id);
    this.entries.set(id, found);
    return found;
  }

  /** A change heard from the feed: the document as committed (null: deleted), or undefined when the change did not carry it. */
  apply(id: string, committed: Stored<unknown> | null | undefined): void {
    for (const fill of this.filling.get(id) ?? []) fill.stale = true;
    if (committed === undefined) this.entries.delete(id);
    else this.keep(id, committed);
  }

  /** Anything may have changed, or the feed is lost: nothing kept is trusted, and no read under way may fill. */
  clear(): void {
    this.entries.clear();
    for (const fills of this.filling.values()) for (const fill of fills) fill.stale = true;
  }

  /** Call before the read of `ids` begins; then fill() or drop() with the same Fill. */
  startFill(ids: readonly string[]): Fill {
    const fill = { stale: false };
    for (const id of ids) {
      let fills = this.filling.get(id);
      if (!fills) this.filling.set(id, (fills = new Set()));
      fills.add(fill);
    }
    return fill;
  }

  /** What the read found for each of its `ids`, in order (null: missing), kept unless a change of any of them was heard meanwhile. */
  fill(fill: Fill, ids: readonly string[], found: readonly (Stored<unknown> | null)[]): void {
    this.drop(fill, ids);
    if (fill.stale) return;
    for (const [at, id] of ids.entries()) this.keep(id, found[at]!);
  }

  drop(fill: Fill, ids: readonly string[]): void {
    for (const id of ids) {
      const fills = this.filling.get(id);
      fills?.delete(fill);
      if (fills?.size === 0) this.filling.delete(id);
    }
  }

  private keep(id: string, document: Stored<unknown> | null): void {
    this.entries.delete(id);
    this.entries.set(id, document);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** Names are NUL-free (commitPlan's checkName), so NUL joins them unambiguously. */
export function documentId(collection: string, key: string): string {
  return `${collection}\0${key}`;
}
