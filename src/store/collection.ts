// One collection of the embedded store in memory: documents by key, and a sorted view for lists, counts and pages.

import type { Page, PageQuery, Stored } from './port.js';

export class Collection {
  readonly docs = new Map<string, Stored<unknown>>();
  /** Keys only: a change to a document already listed leaves the view as it is, and reads look its value up. */
  private sortedKeys: string[] | undefined;
  /**
   * Keys deleted since the sorted view was last read, still in it. Taking one key out of the middle of a long
   * array moves every key after it (half a millisecond at 100,000); deletions come in runs (retention removes
   * thousands), so the view drops them all in one pass when it is next read.
   */
  private readonly deleted = new Set<string>();

  /** `value` undefined deletes. */
  set(key: string, value: Stored<unknown> | undefined): void {
    if (value === undefined) {
      if (this.docs.delete(key) && this.sortedKeys) this.deleted.add(key);
      return;
    }
    const known = this.docs.has(key);
    this.docs.set(key, value);
    if (!known) this.listKey(key);
  }

  /** Writes `value` with the next revision: one more than the document had, 1 for a new one. */
  write(key: string, value: unknown): void {
    const before = this.docs.get(key);
    this.docs.set(key, { key, value, revision: (before?.revision ?? 0) + 1 });
    if (!before) this.listKey(key);
  }

  /** A fresh array each call (callers may sort or filter it); the documents themselves are shared. */
  list(prefix?: string): Stored<unknown>[] {
    const keys = this.sorted();
    const [start, end] = prefix ? this.range(prefix) : [0, keys.length];
    const documents: Stored<unknown>[] = [];
    for (let at = start; at < end; at += 1) documents.push(this.docs.get(keys[at]!)!);
    return documents;
  }

  count(prefix?: string): number {
    if (!prefix) return this.docs.size;
    const [start, end] = this.range(prefix);
    return end - start;
  }

  /** Walks from `after` on, so a page costs what it returns (and what `accept` skips), not the collection's size. */
  page({ prefix = '', after, limit, accept }: PageQuery<unknown>): Page<Stored<unknown>> {
    const keys = this.sorted();
    const [start, end] = this.range(prefix);
    let at = start;
    if (after !== undefined && after >= prefix) {
      at = Math.max(start, findKey(keys, after));
      if (keys[at] === after) at += 1;
    }
    const documents: Stored<unknown>[] = [];
    let last: string | undefined;
    for (; at < end; at += 1) {
      const document = this.docs.get(keys[at]!)!;
      if (accept && !accept(document.value)) continue;
      if (documents.length === limit) return { documents, next: last };
      documents.push(document);
      last = keys[at];
    }
    return { documents, next: undefined };
  }

  /** Keeps the sorted view, once read, in step with a key just added, so reads never rebuild it after a commit. */
  private listKey(key: string): void {
    const keys = this.sortedKeys;
    if (!keys) return;
    const at = findKey(keys, key);
    // Back after a deletion the view has not dropped yet.
    if (keys[at] === key) this.deleted.delete(key);
    else keys.splice(at, 0, key);
  }

  private sorted(): string[] {
    const keys = (this.sortedKeys ??= [...this.docs.keys()].sort());
    if (this.deleted.size) this.dropDeleted(keys);
    return keys;
  }

  /** Closes the gaps the deleted keys leave, moving each key that stays at most once. */
  private dropDeleted(keys: string[]): void {
    const gaps = [...this.deleted].map((key) => findKey(keys, key)).sort((a, b) => a - b);
    this.deleted.clear();
    let to = gaps[0]!;
    for (const [index, gap] of gaps.entries()) {
      const end = gaps[index + 1] ?? keys.length;
      for (let from = gap + 1; from < end; from += 1, to += 1) keys[to] = keys[from]!;
    }
    keys.length = to;
  }

  /** Where the keys starting with `prefix` begin and end in the sorted view: they sit together from its place on. */
  private range(prefix: string): [number, number] {
    const keys = this.sorted();
    if (!prefix) return [0, keys.length];
    const start = findKey(keys, prefix);
    let low = start;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (keys[middle]!.startsWith(prefix)) low = middle + 1;
      else high = middle;
    }
    return [start, low];
  }
}

/** Where `key` is, or would be inserted, in ascending `keys`. */
function findKey(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
