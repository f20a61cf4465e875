// Where a copy writes: a target store that must be empty (or is emptied first, when forced), filled a page at a time.

import type { Store, Stored } from '../port.js';
import { PAGE } from '../readAll.js';
import { StoreError } from '../store.js';

export interface Filling {
  /** Documents none of which the target holds yet; each starts there at revision 1. */
  add(collection: string, documents: readonly Stored<unknown>[]): Promise<void>;
  /** Makes what was added stay. */
  finish(): Promise<void>;
  /** Gives up after a failure: on PostgreSQL nothing of the copy stays; elsewhere the pages committed stay. */
  abandon(): Promise<void>;
}

/** The target of a copy holds documents and the copy was not told to replace them. */
export class TargetNotEmpty extends StoreError {
  constructor(shown: string, counts: readonly { readonly collection: string; readonly count: number }[]) {
    const held = counts.map(({ collection, count }) => `${collection}: ${count}`).join(', ');
    super(`the store in ${shown} is not empty (${held}); nothing was copied. Give --force to delete what it holds first (see docs/storage.md, "Moving between stores")`);
  }
}

/** How many documents each collection of `store` holds, for TargetNotEmpty. */
export async function countsOf(store: Store): Promise<{ collection: string; count: number }[]> {
  return Promise.all((await store.collections()).map(async (collection) => ({ collection, count: await store.count(collection) })));
}

/**
 * A filling made of ordinary commits, a page each, for any store (the embedded one): with `force`, the documents
 * it holds are deleted first, also a page a commit. A failure part way leaves the pages committed so far.
 */
export async function fillThroughCommits(store: Store, shown: string, force: boolean): Promise<Filling> {
  const counts = await countsOf(store);
  if (counts.length && !force) throw new TargetNotEmpty(shown, counts);
  for (const { collection } of counts) await deleteAll(store, collection);
  return {
    add: (collection, documents) => store.commit(documents.map(({ key, value }) => ({ collection, key, value, expect: 0 }))),
    finish: () => Promise.resolve(),
    abandon: () => Promise.resolve(),
  };
}

async function deleteAll(store: Store, collection: string): Promise<void> {
  // Each page is deleted before the next is read, so the next page starts at the front again.
  for (;;) {
    const { documents } = await store.page(collection, { limit: PAGE });
    if (documents.length === 0) return;
    await store.commit(documents.map(({ key }) => ({ collection, key, value: null })));
  }
}
