// The NOTIFY payloads that carry a commit's changed keys, and the replica that committed it, to every replica's change feed.

import type { Change } from '../port.js';

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

/** `changes` as NOTIFY payloads, each a JSON object naming `origin` and a list of [collection, key], under PostgreSQL's size limit. */
export function encodeChanges(changes: readonly Change[], origin: string): string[] {
  const head = `{"origin":${JSON.stringify(origin)},"changes":[`;
  const payloads: string[] = [];
  let parts: string[] = [];
  const empty = Buffer.byteLength(head) + 2;
  let bytes = empty;
  for (const { collection, key } of changes) {
    const part = JSON.stringify([collection, key]);
    const size = Buffer.byteLength(part) + 1;
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

/** A payload back as changes; an empty list (anything may have changed) for one that says so or cannot be read. */
export function decodeChanges(payload: string | undefined): Heard {
  const anything = { origin: undefined, changes: [] };
  if (payload === undefined || payload === ANYTHING) return anything;
  try {
    const parsed = JSON.parse(payload) as unknown;
    // A bare list is what a chartd from before origins sends, during a rolling upgrade.
    const { origin, changes: pairs } = Array.isArray(parsed) ? { origin: undefined, changes: parsed } : (parsed as { origin?: unknown; changes?: unknown });
    if (!Array.isArray(pairs) || (origin !== undefined && typeof origin !== 'string')) return anything;
    const changes: Change[] = [];
    for (const pair of pairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return anything;
      changes.push({ collection: pair[0], key: pair[1] });
    }
    return { origin, changes };
  } catch {
    // Another program notifying on the channel: wake everyone rather than miss a change.
    return anything;
  }
}
