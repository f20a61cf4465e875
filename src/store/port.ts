// The store port: what the runtime and every background service see of a store, embedded or PostgreSQL.

import { WriteConflict, type Page, type PageQuery, type StoreHealth } from './store.js';

export type { Page, PageQuery, StoreHealth } from './store.js';
export { StoreError, StoreUnavailable, WriteConflict } from './store.js';

export interface Stored<T> {
  readonly key: string;
  readonly value: T;
  /** 1 when created, one more with each write; a deleted document created again starts at 1. */
  readonly revision: number;
}

export interface Write {
  readonly collection: string;
  readonly key: string;
  /** Plain JSON data nobody changes afterwards; null deletes. A numeric `due` property (epoch ms) makes it claimable work. */
  readonly value: unknown;
  /** The revision the document must have for the commit to apply: 0 = must not exist. Omitted = unconditional. */
  readonly expect?: number;
}

/** A fencing token: who holds a claimed document, and which claim of it this is (epochs only grow). */
export interface Lease {
  readonly owner: string;
  readonly epoch: number;
}

export interface Fence {
  readonly collection: string;
  readonly key: string;
  readonly lease: Lease;
}

export interface CommitOptions {
  /** The lease the commit must still hold: a claimer that lost it cannot commit (WriteConflict naming it). */
  readonly fence?: Fence;
  /**
   * Called once the commit is on its way (its write has begun), or has failed: a change built on it may be
   * handed in then and will join a later write, which is what lets each write carry every change made meanwhile.
   */
  readonly issued?: () => void;
}

export interface ClaimQuery {
  readonly owner: string;
  /** Epoch ms: the claimer's clock, so tests pass a simulated one. */
  readonly now: number;
  readonly leaseMs: number;
  readonly limit: number;
}

export interface Change {
  readonly collection: string;
  readonly key: string;
  /**
   * On a shared store, the document as the commit left it (null: deleted), so nobody reads it back: for this store's
   * own commits and, on PostgreSQL, other replicas' (unless too big for a notification). Taken in the order heard,
   * it never goes back to an older document than one read from the store before.
   */
  readonly committed?: Stored<unknown> | null;
}

export type ChangeListener = (changes: readonly Change[]) => void;

export interface Store {
  get<T>(collection: string, key: string): Promise<Stored<T> | undefined>;
  /** Those of `keys` that exist, by key, in one read. */
  getMany<T>(collection: string, keys: readonly string[]): Promise<Map<string, Stored<T>>>;
  /** Key order; `accept` filters on the value. */
  page<T>(collection: string, query: PageQuery<T>): Promise<Page<Stored<T>>>;
  count(collection: string, prefix?: string): Promise<number>;
  /** The names of the collections holding at least one document, sorted. */
  collections(): Promise<string[]>;
  /**
   * All or none; acknowledged only once durable. Throws WriteConflict (naming the keys) when an expectation or
   * the fence's lease does not hold: nothing applied. Throws StoreUnavailable (503 + Retry-After) when the store
   * is unreachable: nothing applied, unless `inDoubt` (the answer was lost and the store could not be asked;
   * the revisions read next tell). Writing a document ends its lease.
   */
  commit(writes: readonly Write[], options?: CommitOptions): Promise<void>;
  /**
   * Due work: documents of `collection` whose `due` is <= now and not leased (or whose lease ran out), leased to
   * `owner` for `leaseMs`, soonest due first; each comes with its Lease (a new epoch per claim).
   */
  claim<T>(collection: string, query: ClaimQuery): Promise<(Stored<T> & { lease: Lease })[]>;
  /** Moves the leases `owner` still holds on `keys` to `until`; answers the keys still held. */
  renew(collection: string, keys: readonly string[], lease: { owner: string; until: number }): Promise<string[]>;
  /**
   * Committed changes of any replica (self included). An empty list means anything may have changed (the store
   * lost its change feed for a while, or a commit changed too much to name): see `concerns`.
   */
  onChange(listener: ChangeListener): () => void;
  health(): StoreHealth;
  close(): Promise<void>;
}

/** For a commit another replica may have made first: its WriteConflict means what that replica did stands; anything else is thrown. */
export function unlessTaken(error: unknown): void {
  if (!(error instanceof WriteConflict)) throw error;
}

/** Whether `changes`, as onChange reports them, may include the document `collection`/`key`. */
export function concerns(changes: readonly Change[], collection: string, key: string): boolean {
  return changes.length === 0 || changes.some((change) => change.collection === collection && change.key === key);
}
