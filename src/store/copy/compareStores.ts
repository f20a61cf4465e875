// Two stores compared collection by collection (count and checksum), each read back from the store itself.

import type { Store } from '../port.js';
import { summarize, type Summary } from './summarize.js';

export interface Comparison {
  readonly collection: string;
  readonly from: Summary;
  readonly to: Summary;
  readonly same: boolean;
}

/** Every collection either store holds, in name order; one missing on a side counts as empty there. */
export async function compareStores(from: Store, to: Store): Promise<Comparison[]> {
  const names = [...new Set([...(await from.collections()), ...(await to.collections())])].sort();
  const comparisons: Comparison[] = [];
  for (const collection of names) {
    const [fromSummary, toSummary] = await Promise.all([summarize(from, collection), summarize(to, collection)]);
    comparisons.push({ collection, from: fromSummary, to: toSummary, same: fromSummary.count === toSummary.count && fromSummary.checksum === toSummary.checksum });
  }
  return comparisons;
}
