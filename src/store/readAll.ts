// Every document of a collection (under a prefix), read page by page through the port: for start-up and sweeps.

import type { Store } from './port.js';

/** Big enough that a start-up with 100,000 instances takes a hundred pages, small enough not to hold a connection long. */
const PAGE = 1000;

export async function readAll<T>(store: Store, collection: string, prefix?: string): Promise<T[]> {
  const values: T[] = [];
  let after: string | undefined;
  do {
    const page = await store.page<T>(collection, { limit: PAGE, ...(prefix ? { prefix } : {}), ...(after !== undefined ? { after } : {}) });
    for (const { value } of page.documents) values.push(value);
    after = page.next;
  } while (after !== undefined);
  return values;
}
