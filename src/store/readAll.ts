// Every document of a collection (under a prefix), read page by page through the port: for start-up and sweeps.

import type { Store, Stored } from './port.js';

/** Big enough that a start-up with 100,000 instances takes a hundred pages, small enough not to hold a connection long. */
const PAGE = 1000;

export async function readAll<T>(store: Store, collection: string, prefix?: string): Promise<T[]> {
  return (await readAllStored<T>(store, collection, prefix)).map(({ value }) => value);
}

/** As readAll, with each document's key and revision. */
export async function readAllStored<T>(store: Store, collection: string, prefix?: string): Promise<Stored<T>[]> {
  const documents: Stored<T>[] = [];
  let after: string | undefined;
  do {
    const page = await store.page<T>(collection, { limit: PAGE, ...(prefix ? { prefix } : {}), ...(after !== undefined ? { after } : {}) });
    documents.push(...page.documents);
    after = page.next;
  } while (after !== undefined);
  return documents;
}
