// The NOTIFY payloads that carry a commit's changed keys to every replica's change feed.

import type { Change } from '../port.js';

export const CHANNEL = 'chartd_changes';

/** PostgreSQL refuses a payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7900;

/** Anything may have changed: sent for a key too long to name. */
export const ANYTHING = '*';

/** `changes` as NOTIFY payloads, each a JSON list of [collection, key] under PostgreSQL's size limit. */
export function encodeChanges(changes: readonly Change[]): string[] {
  const payloads: string[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (const { collection, key } of changes) {
    const part = JSON.stringify([collection, key]);
    const size = Buffer.byteLength(part) + 1;
    if (size + 2 > MAX_PAYLOAD_BYTES) return [ANYTHING];
    if (bytes + size > MAX_PAYLOAD_BYTES) {
      payloads.push(`[${parts.join(',')}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(part);
    bytes += size;
  }
  if (parts.length) payloads.push(`[${parts.join(',')}]`);
  return payloads;
}

/** A payload back as changes; an empty list (anything may have changed) for one that says so or cannot be read. */
export function decodeChanges(payload: string | undefined): Change[] {
  if (payload === undefined || payload === ANYTHING) return [];
  try {
    const pairs = JSON.parse(payload) as unknown;
    if (!Array.isArray(pairs)) return [];
    const changes: Change[] = [];
    for (const pair of pairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return [];
      changes.push({ collection: pair[0], key: pair[1] });
    }
    return changes;
  } catch {
    // Another program notifying on the channel: wake everyone rather than miss a change.
    return [];
  }
}
