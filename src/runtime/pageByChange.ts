// A page of instances in order of their last change, newest first, with a cursor that survives later changes.

import type { Snapshot } from '../engine/snapshot.js';

/** Where a page ended: the last instance's change time (epoch ms) and id. */
export interface ChangeCursor {
  readonly at: number;
  readonly id: string;
}

export interface ChangePage {
  readonly instances: Snapshot[];
  /** Where the next page goes on from; undefined on the last page. */
  readonly next: ChangeCursor | undefined;
}

/** "1767225600000.nightly-1": a cursor as it travels in `after=`. */
export function formatCursor(cursor: ChangeCursor): string {
  return `${cursor.at}.${cursor.id}`;
}

/** The cursor of `after=`, or undefined when the text is not one. */
export function parseCursor(text: string): ChangeCursor | undefined {
  const match = /^(\d{1,15})\.(.+)$/.exec(text);
  return match ? { at: Number(match[1]), id: match[2]! } : undefined;
}

/**
 * One pass over the instances, keeping the `limit` newest that `accept` takes and that come after `after`
 * (newest first, then by id): O(n log limit), whatever order the instances come in.
 */
export function pageByChange(snapshots: Iterable<Snapshot>, query: { limit: number; after?: ChangeCursor; accept?: (snapshot: Snapshot) => boolean }): ChangePage {
  const kept: { at: number; snapshot: Snapshot }[] = [];
  let more = false;
  for (const snapshot of snapshots) {
    if (query.accept && !query.accept(snapshot)) continue;
    const at = Date.parse(snapshot.updatedAt);
    if (query.after && !follows(at, snapshot.id, query.after)) continue;
    if (kept.length === query.limit) {
      const last = kept[kept.length - 1]!;
      more = true;
      if (!follows(at, snapshot.id, { at: last.at, id: last.snapshot.id })) {
        kept.splice(insertionPoint(kept, at, snapshot.id), 0, { at, snapshot });
        kept.pop();
      }
      continue;
    }
    kept.splice(insertionPoint(kept, at, snapshot.id), 0, { at, snapshot });
  }
  const last = kept[kept.length - 1];
  return { instances: kept.map((entry) => entry.snapshot), next: more && last ? { at: last.at, id: last.snapshot.id } : undefined };
}

/** Whether an instance changed at `at` with id `id` comes after `cursor` in newest-first order. */
function follows(at: number, id: string, cursor: ChangeCursor): boolean {
  return at < cursor.at || (at === cursor.at && id > cursor.id);
}

function insertionPoint(kept: readonly { at: number; snapshot: Snapshot }[], at: number, id: string): number {
  let low = 0;
  let high = kept.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const entry = kept[middle]!;
    if (follows(at, id, { at: entry.at, id: entry.snapshot.id })) low = middle + 1;
    else high = middle;
  }
  return low;
}
