// The NOTIFY payloads that carry a commit's changed documents, and the replica that committed it, to every replica's change feed.

import type { Change, Stored } from '../port.js';

export const CHANNEL = 'chartd_changes';

/** PostgreSQL refuses a payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7900;

/** Anything may have changed: sent for a key too long to name. */
export const ANYTHING = '*';

/** What a payload says: the changes, and the store that committed them (its own feed leaves them out: it told its listeners). */
export interface Heard {
  readonly origin: string | undefined;
  /** Empty: anything may have changed. */
  readonly changes: readonly Change[];
}

/**
 * `changes` as NOTIFY payloads under PostgreSQL's size limit, each a JSON object naming `origin` and a list of
 * [collection, key, revision, value] ([collection, key, null] once deleted); a document too big for a payload of
 * its own goes as [collection, key] and is read back. A chartd that reads only [collection, key] reads these too.
 */
export function encodeChanges(changes: readonly Change[], origin: string, texts?: readonly (string | null)[]): string[] {
  const head = `{"origin":${JSON.stringify(origin)},"changes":[`;
  const payloads: string[] = [];
  let parts: string[] = [];
  const empty = Buffer.byteLength(head) + 2;
  let bytes = empty;
  for (const [at, change] of changes.entries()) {
    let part = partOf(change, texts?.[at]);
    let size = Buffer.byteLength(part) + 1;
    if (size + empty > MAX_PAYLOAD_BYTES && change.committed !== undefined) {
      part = JSON.stringify([change.collection, change.key]);
      size = Buffer.byteLength(part) + 1;
    }
    if (size + empty > MAX_PAYLOAD_BYTES) return [ANYTHING];
    if (bytes + size > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${parts.join(',')}]}`);
      parts = [];
      bytes = empty;
    }
    parts.push(part);
    bytes += size;
  }
  if (parts.length) payloads.push(`${head}${parts.join(',')}]}`);
  return payloads;
}

/** `text`, when given, is the committed value already as JSON: joined in as it is rather than encoded again. */
function partOf({ collection, key, committed }: Change, text?: string | null): string {
  if (committed === undefined) return JSON.stringify([collection, key]);
  if (committed === null) return JSON.stringify([collection, key, null]);
  if (typeof text === 'string') return `[${JSON.stringify(collection)},${JSON.stringify(key)},${committed.revision},${text}]`;
  return JSON.stringify([collection, key, committed.revision, committed.value]);
}

/** A payload back as changes; an empty list (anything may have changed) for one that says so or cannot be read. */
export function decodeChanges(payload: string | undefined): Heard {
  const anything = { origin: undefined, changes: [] };
  if (payload === undefined || payload === ANYTHING) return anything;
  try {
    const parsed = JSON.parse(payload) as unknown;
    // A bare list is what a chartd from before origins sends, during a rolling upgrade.
    const { origin, changes: parts } = Array.isArray(parsed) ? { origin: undefined, changes: parsed } : (parsed as { origin?: unknown; changes?: unknown });
    if (!Array.isArray(parts) || (origin !== undefined && typeof origin !== 'string')) return anything;
    const changes: Change[] = [];
    for (const part of parts) {
      const change = changeOf(part);
      if (!change) return anything;
      changes.push(change);
    }
    return { origin, changes };
  } catch {
    // Another program notifying on the channel: wake everyone rather than miss a change.
    return anything;
  }
}

/** [collection, key] alone (an older chartd, or a document too big to carry), with [revision, value], or with null (deleted). */
function changeOf(part: unknown): Change | undefined {
  if (!Array.isArray(part) || typeof part[0] !== 'string' || typeof part[1] !== 'string') return undefined;
  const [collection, key] = part as [string, string];
  if (part.length === 2) return { collection, key };
  if (part.length === 3 && part[2] === null) return { collection, key, committed: null };
  if (part.length === 4 && Number.isSafeInteger(part[2]) && (part[2] as number) > 0) {
    const committed: Stored<unknown> = { key, value: part[3], revision: part[2] as number };
    return { collection, key, committed };
  }
  // A form of a later chartd: still names the document, to be read back.
  return { collection, key };
}

/** The channel a store's read barriers go on: its own, so other replicas' sessions are not sent them. */
export function barrierChannel(origin: string): string {
  return `chartd_barrier_${origin}`;
}
