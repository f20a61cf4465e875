// The synchronous store interface its callers still use, over the embedded store's memory, while they move to the port.

import type { LowdbStore } from './lowdbStore.js';
import type { Store } from './store.js';

export function legacyStore(store: LowdbStore): Store {
  return {
    get: <T>(collection: string, key: string) => store.collectionOf(collection)?.docs.get(key)?.value as T | undefined,
    list: <T>(collection: string, prefix?: string) => (store.collectionOf(collection)?.list(prefix) ?? []).map(({ value }) => value as T),
    count: (collection, prefix) => store.collectionOf(collection)?.count(prefix) ?? 0,
    page: <T>(collection: string, query: Parameters<Store['page']>[1]) => {
      const page = store.collectionOf(collection)?.page(query) ?? { documents: [], next: undefined };
      return { documents: page.documents.map(({ value }) => value as T), next: page.next };
    },
    commit: (writes) => store.commit(writes),
    whenIssued: () => store.whenIssued(),
    get failures() {
      return store.failures;
    },
    health: () => store.health(),
    close: () => store.close(),
  };
}
