// Copies every collection of one store into another, a page at a time, whatever they hold.

import type { Store } from '../port.js';
import { pagesOf } from '../readAll.js';
import type { Filling } from './filling.js';

/** Told after each page: the collection, the documents of it copied so far, and how many it holds. */
export type CopyProgress = (collection: string, copied: number, total: number) => void;

/** Copies everything `from` holds into `into` and finishes it; abandons it on a failure, which is thrown. */
export async function copyStore(from: Store, into: Filling, progress: CopyProgress = () => {}): Promise<void> {
  try {
    for (const collection of await from.collections()) {
      const total = await from.count(collection);
      let copied = 0;
      for await (const page of pagesOf(from, collection)) {
        await into.add(collection, page);
        copied += page.length;
        progress(collection, copied, total);
      }
    }
    await into.finish();
  } catch (error) {
    // The copy's own failure is the one to report; abandon() ends the PostgreSQL transaction either way.
    await into.abandon().catch(() => undefined);
    throw error;
  }
}
