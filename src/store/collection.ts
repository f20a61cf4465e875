// One collection of the embedded store in memory: documents by key, and a sorted view for lists, counts and pages.

import type { Page, PageQuery, Stored } from './port.js';

export class Collection {
  readonly docs = new Map<string, Stored<unknown>>();
  private sortedKeys: string[] | undefined;
  private sortedValues: Stored<unknown>[] | undefined;
  /**
   * Keys deleted since the sorted view was last read, still in it. Taking one key out of the middle of a long
   * array moves every key after it (half a millisecond at 100,000); deletions come in runs (retention removes
   * thousands), so the view drops them all in one pass when it is next read.
   */
  private readonly deleted = new Set<string>();

  /** `value` undefined deletes. */
  set(key: string, value: Stored<unknown> | undefined): void {
    const keys = this.sortedKeys;
    if (value === undefined) {
      if (this.docs.delete(key) && keys) this.deleted.add(key);
      return;
    }
    const isNew = !this.docs.has(key);
    this.docs.set(key, value);
    if (!keys) return;
    // Keep the sorted view in step, so list() stays a copy rather than a rebuild after every commit.
    const at = findKey(keys, key);
    if (keys[at] === key) {
      // Changed, or back after a deletion the view has not dropped yet.
      this.deleted.delete(key);
      this.sortedValues![at] = value;
    } else {
      keys.splice(at, 0, key);
      this.sortedValues!.splice(at, 0, value);
    }
  }

  /** A fresh array each call (callers may sort or filter it); the documents themselves are shared. */
  list(prefix?: string): Stored<unknown>[] {
    const { values } = this.sorted();
    if (!prefix) return values.slice();
    const [start, end] = this.range(prefix);
    return values.slice(start, end);
  }

  count(prefix?: string): number {
    if (!prefix) return this.docs.size;
    const [start, end] = this.range(prefix);
    return end - start;
  }

  /** Walks from `after` on, so a page costs what it returns (and what `accept` skips), not the collection's size. */
  page({ prefix = '', after, limit, accept }: PageQuery<unknown>): Page<Stored<unknown>> {
    const { keys, values } = this.sorted();
    const [start, end] = this.range(prefix);
    let at = start;
    if (after !== undefined && after >= prefix) {
      at = Math.max(start, findKey(keys, after));
      if (keys[at] === after) at += 1;
    }
    const documents: Stored<unknown>[] = [];
    let last: string | undefined;
    for (; at < end; at += 1) {
      if (accept && !accept(values[at]!.value)) continue;
      if (documents.length === limit) return { documents, next: last };
      documents.push(values[at]!);
      last = keys[at];
    }
    return { documents, next: undefined };
  }

  private sorted(): { keys: string[]; values: Stored<unknown>[] } {
    const keys = (this.sortedKeys ??= [...this.docs.keys()].sort());
    const values = (this.sortedValues ??= keys.map((key) => this.docs.get(key)!));
    if (this.deleted.size) this.dropDeleted(keys, values);
    return { keys, values };
  }

  /** Closes the gaps the deleted keys leave, moving each key that stays at most once. */
  private dropDeleted(keys: string[], values: Stored<unknown>[]): void {
    const gaps = [...this.deleted].map((key) => findKey(keys, key)).sort((a, b) => a - b);
    this.deleted.clear();
    let to = gaps[0]!;
    for (const [index, gap] of gaps.entries()) {
      const end = gaps[index + 1] ?? keys.length;
      for (let from = gap + 1; from < end; from += 1, to += 1) {
        keys[to] = keys[from]!;
        values[to] = values[from]!;
      }
    }
    keys.length = to;
    values.length = to;
  }

  /** Where the keys starting with `prefix` begin and end in the sorted view: they sit together from its place on. */
  private range(prefix: string): [number, number] {
    const { keys } = this.sorted();
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
