// What a group of commits does to the rows it locked: which members conflict, and the rows the others leave behind.

import { CHECK_PLAIN_JSON, checkPlainJson } from '../plainJson.js';
import type { Change, Fence, Write } from '../port.js';

/** One commit() call, its values already JSON text. */
export interface Member {
  readonly writes: readonly EncodedWrite[];
  readonly fence: Fence | undefined;
}

export interface EncodedWrite {
  readonly collection: string;
  readonly key: string;
  /** null deletes. */
  readonly json: string | null;
  /** The value as given, told to this store's own listeners once committed. */
  readonly value: unknown;
  readonly due: number | null;
  readonly expect: number | undefined;
}

/** A locked row as the transaction found it. */
export interface Current {
  readonly collection: string;
  readonly key: string;
  readonly revision: number;
  readonly leaseOwner: string | null;
  readonly leaseEpoch: number;
}

export interface Row {
  readonly collection: string;
  readonly key: string;
  readonly json: string;
  readonly revision: number;
  readonly due: number | null;
}

export interface Plan {
  /** Per member: the documents whose expectation or lease did not hold (nothing of it applies), or undefined. */
  readonly conflicts: readonly (readonly Change[] | undefined)[];
  /** Rows that existed when locked, and rows that did not (an INSERT that finds one after all must start over). */
  readonly updates: readonly Row[];
  readonly inserts: readonly Row[];
  readonly deletes: readonly Change[];
  /** Every document the applied members wrote, as they leave it, for the change feed. */
  readonly changes: readonly Change[];
  /** Each change's value as JSON text (null: deleted), so its notification need not encode it again. */
  readonly texts: readonly (string | null)[];
}

interface DocState {
  exists: boolean;
  revision: number;
  leaseOwner: string | null;
  leaseEpoch: number;
  json: string | null;
  value: unknown;
  due: number | null;
  readonly existed: boolean;
  touched: boolean;
}

/** A commit() call's writes checked and encoded; throws TypeError for what no store can keep. */
export function encodeMember(writes: readonly Write[], fence: Fence | undefined): Member {
  const encoded = writes.map(({ collection, key, value, expect }) => {
    checkName(collection, 'collection');
    checkName(key, 'key');
    if (expect !== undefined && !(Number.isSafeInteger(expect) && expect >= 0)) {
      throw new TypeError(`the expected revision of ${collection}/${key} is ${String(expect)}, not a whole number >= 0`);
    }
    if (value === null) return { collection, key, json: null, value, due: null, expect };
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`the value for ${collection}/${key} is not JSON data`);
    if (CHECK_PLAIN_JSON) checkPlainJson(collection, key, value, json);
    return { collection, key, json, value, due: dueOf(value), expect };
  });
  if (fence) {
    checkName(fence.collection, 'collection');
    checkName(fence.key, 'key');
  }
  return { writes: encoded, fence };
}

/** A lone UTF-16 surrogate, which UTF-8 cannot carry: two such names would reach PostgreSQL as the same one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** PostgreSQL's text holds neither NUL nor a lone surrogate; an empty name is a mistake. */
function checkName(name: unknown, what: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\0') || LONE_SURROGATE.test(name)) {
    throw new TypeError(`a write's ${what} must be a non-empty string of whole characters without NUL, not ${JSON.stringify(name)}`);
  }
}

/** A value's numeric `due` (epoch ms) makes its document claimable work; beyond JavaScript's whole numbers, at their end. */
function dueOf(value: unknown): number | null {
  const due = typeof value === 'object' && value !== null ? (value as { due?: unknown }).due : undefined;
  if (typeof due !== 'number' || Number.isNaN(due)) return null;
  return Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(due)));
}

/** Keys every member writes or is fenced by, each once: the rows to lock. */
export function keysOf(members: readonly Member[]): Change[] {
  const keys = new Map<string, Change>();
  for (const { writes, fence } of members) {
    for (const { collection, key } of fence ? [...writes, fence] : writes) keys.set(idOf(collection, key), { collection, key });
  }
  return [...keys.values()];
}

/**
 * Plays the members in order over the locked rows: a member whose fence or an expectation fails is left out
 * whole, and those after it see the documents as if it had never been. Writing a document ends its lease.
 */
export function planCommit(members: readonly Member[], current: readonly Current[]): Plan {
  const found = new Map(current.map((row) => [idOf(row.collection, row.key), row]));
  const states = new Map<string, DocState>();
  const stateOf = (collection: string, key: string): DocState => {
    const id = idOf(collection, key);
    let state = states.get(id);
    if (!state) {
      const row = found.get(id);
      state = row
        ? { exists: true, revision: row.revision, leaseOwner: row.leaseOwner, leaseEpoch: row.leaseEpoch, json: null, value: null, due: null, existed: true, touched: false }
        : { exists: false, revision: 0, leaseOwner: null, leaseEpoch: 0, json: null, value: null, due: null, existed: false, touched: false };
      states.set(id, state);
    }
    return state;
  };
  const conflicts = members.map(({ writes, fence }) => {
    const scratch = new Map<string, DocState>();
    const look = (collection: string, key: string): DocState => {
      const id = idOf(collection, key);
      let state = scratch.get(id);
      if (!state) scratch.set(id, (state = { ...stateOf(collection, key) }));
      return state;
    };
    const failed: Change[] = [];
    if (fence) {
      const held = look(fence.collection, fence.key);
      if (!held.exists || held.leaseOwner !== fence.lease.owner || held.leaseEpoch !== fence.lease.epoch) failed.push(fence);
    }
    for (const { collection, key, json, value, due, expect } of writes) {
      const state = look(collection, key);
      if (expect !== undefined && (state.exists ? state.revision : 0) !== expect) failed.push({ collection, key });
      state.revision = json === null ? 0 : (state.exists ? state.revision : 0) + 1;
      Object.assign(state, { exists: json !== null, json, value, due, leaseOwner: null, touched: true });
    }
    if (failed.length) return uniqueChanges(failed);
    for (const [id, state] of scratch) Object.assign(states.get(id)!, state);
    return undefined;
  });
  const updates: Row[] = [];
  const inserts: Row[] = [];
  const deletes: Change[] = [];
  const changes: Change[] = [];
  const texts: (string | null)[] = [];
  for (const [id, state] of states) {
    if (!state.touched) continue;
    const [collection, key] = splitId(id);
    changes.push({ collection, key, committed: state.exists ? { key, value: state.value, revision: state.revision } : null });
    texts.push(state.exists ? state.json : null);
    if (state.exists) (state.existed ? updates : inserts).push({ collection, key, json: state.json!, revision: state.revision, due: state.due });
    else if (state.existed) deletes.push({ collection, key });
  }
  return { conflicts, updates, inserts, deletes, changes, texts };
}

function uniqueChanges(changes: readonly Change[]): Change[] {
  return [...new Map(changes.map((change) => [idOf(change.collection, change.key), { collection: change.collection, key: change.key }])).values()];
}

/** Names are NUL-free (checkName), so NUL joins them unambiguously. */
function idOf(collection: string, key: string): string {
  return `${collection}\0${key}`;
}

function splitId(id: string): [string, string] {
  const at = id.indexOf('\0');
  return [id.slice(0, at), id.slice(at + 1)];
}
