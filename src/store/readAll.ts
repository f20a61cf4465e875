// Every document of a collection (under a prefix), read page by page through the port: for start-up, sweeps and copies.

import type { Store, Stored } from './port.js';

/** Big enough that a start-up with 100,000 instances takes a hundred pages, small enough not to hold a connection long. */
export const PAGE = 1000;

/** The documents a page at a time, in key order, so a caller that does not keep them holds one page. */
export async function* pagesOf<T>(store: Store, collection: string, prefix?: string): AsyncGenerator<Stored<T>[]> {
  let after: string | undefined;
  do {
    const page = await store.page<T>(collection, { limit: PAGE, ...(prefix ? { prefix } : {}), ...(after !== undefined ? { after } : {}) });
    if (page.documents.length) yield page.documents;
    after = page.next;
  } while (after !== undefined);
}

export async function readAll<T>(store: Store, collection: string, prefix?: string): Promise<T[]> {
  return (await readAllStored<T>(store, collection, prefix)).map(({ value }) => value);
}

/** As readAll, with each document's key and revision. */
export async function readAllStored<T>(store: Store, collection: string, prefix?: string): Promise<Stored<T>[]> {
  const documents: Stored<T>[] = [];
  for await (const page of pagesOf<T>(store, collection, prefix)) documents.push(...page);
  return documents;
}
