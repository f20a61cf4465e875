// An instance's history kept apart from its snapshot: one document per transition, the newest HISTORY_LIMIT of them.

import { recording } from '../engine/outcome.js';
import { HISTORY_LIMIT, type Snapshot, type Transition } from '../engine/snapshot.js';
import type { Store, Write } from '../store/port.js';
import { readAll } from '../store/readAll.js';

export const HISTORY = 'history';

/** Enough digits that keys sort in sequence order for any instance's lifetime. */
const SEQ_DIGITS = 12;

/** Instances whose history moves out of their snapshots in one commit, at start-up. */
const MOVE_BATCH = 200;

/** An instance's key and a sequence number: its history's document for that transition. */
export function historyKey(instance: string, seq: number): string {
  return `${instance}/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/**
 * The transitions kept for `snapshot`, oldest first: those up to its own count, so a later commit adds nothing to
 * it. Read key by key: listing by prefix would have the store keep a sorted view that every transition inserts into.
 */
export async function readHistory(store: Store, instance: string, snapshot: Snapshot): Promise<Transition[]> {
  const reads: Promise<Transition | undefined>[] = [];
  for (let seq = Math.max(1, snapshot.transitions - HISTORY_LIMIT + 1); seq <= snapshot.transitions; seq += 1) {
    reads.push(store.get<Transition>(HISTORY, historyKey(instance, seq)).then((entry) => entry?.value));
  }
  return (await Promise.all(reads)).filter((entry): entry is Transition => entry !== undefined);
}

/** The history documents one batch of an instance's work changes: the transitions it recorded, those it drops, a removal's. */
export class HistoryWrites {
  private readonly changes = new Map<string, Transition | null>();

  constructor(private readonly instance: string) {}

  /** Transitions recorded by a change that left the instance with `transitions` recorded in all; the oldest beyond the limit go. */
  record(recorded: readonly Transition[], transitions: number): void {
    let seq = transitions - recorded.length;
    for (const entry of recorded) {
      seq += 1;
      this.changes.set(historyKey(this.instance, seq), entry);
      if (seq > HISTORY_LIMIT) this.changes.set(historyKey(this.instance, seq - HISTORY_LIMIT), null);
    }
  }

  /** The instance is removed: so is every transition kept for it. */
  remove(snapshot: Snapshot): this {
    for (let seq = Math.max(1, snapshot.transitions - HISTORY_LIMIT + 1); seq <= snapshot.transitions; seq += 1) {
      this.changes.set(historyKey(this.instance, seq), null);
    }
    return this;
  }

  /** Appends the writes to the commit's `writes`. */
  addTo(writes: Write[]): void {
    for (const [key, value] of this.changes) writes.push({ collection: HISTORY, key, value });
  }
}

/** A snapshot as stored before histories were kept apart: its transitions inside it. */
type Inlined = Omit<Snapshot, 'transitions'> & { readonly history: readonly Transition[] };

/**
 * Moves the history of snapshots that still hold it into the history collection, each instance in the same
 * commit as its snapshot without it: an interrupted move leaves every instance either moved or as it was, and the
 * next start moves the rest. Returns how many instances moved.
 */
export async function moveHistoryOut(store: Store, collection: string): Promise<number> {
  const inlined = (await readAll<Snapshot | Inlined>(store, collection)).filter((snapshot): snapshot is Inlined => 'history' in snapshot);
  for (let start = 0; start < inlined.length; start += MOVE_BATCH) {
    const writes: Write[] = [];
    for (const old of inlined.slice(start, start + MOVE_BATCH)) {
      const instance = `${old.chart}/${old.id}`;
      const { history, ...rest } = old;
      history.forEach((entry, index) => writes.push({ collection: HISTORY, key: historyKey(instance, index + 1), value: entry }));
      writes.push({ collection, key: instance, value: { ...rest, ...countedSince(history) } });
    }
    await store.commit(writes);
  }
  return inlined.length;
}

/** What the engine keeps of a history in the snapshot: how many transitions, and what distinct gates closed in this run. */
function countedSince(history: readonly Transition[]): Pick<Snapshot, 'transitions' | 'closedGates'> {
  const restart = history.findLastIndex((entry) => entry.cause === 'restart');
  let kept: Pick<Snapshot, 'transitions' | 'closedGates'> = { transitions: Math.max(0, restart) };
  for (const entry of history.slice(Math.max(0, restart))) kept = recording(kept, entry);
  return kept;
}
