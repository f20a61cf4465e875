// The Store port: durable named collections of JSON documents, committed in groups.

/** One change to one document; `value: null` deletes it. */
export interface Write {
  readonly collection: string;
  readonly key: string;
  readonly value: unknown;
}

export interface Store {
  /** The committed document, or undefined. Never returns a change that is not yet durable. */
  get<T = unknown>(collection: string, key: string): T | undefined;
  /** Every committed document of a collection, in key order; with `prefix`, only those whose key starts with it. */
  list<T = unknown>(collection: string, prefix?: string): T[];
  /** How many committed documents the collection holds (whose key starts with `prefix`, if given), without listing them. */
  count(collection: string, prefix?: string): number;
  /** One page of `list()`: what follows `after`, at most `limit` documents that `accept` takes. */
  page<T = unknown>(collection: string, query: PageQuery<T>): Page<T>;
  /**
   * Makes the writes durable together (all or none) and resolves only then.
   * Concurrent calls are grouped into one fsync; each call still gets its own outcome.
   * Calls are ordered: if one fails, every call made before that failure was dealt with fails too, so a
   * change built on another that is still pending never outlives it.
   */
  commit(writes: readonly Write[], options?: CommitOptions): Promise<void>;
  /** Resolves once every commit() made so far is on its way to disk (or has failed). */
  whenIssued(): Promise<void>;
  /**
   * How many times a commit has failed so far. It moves the moment a failure is known, before any commit is
   * rejected, so a caller holding a change built on a pending commit can tell, without waiting for that
   * commit's answer, that the change must not be built on any more.
   */
  readonly failures: number;
  /** Whether the last write landed; when it did not (or the store refuses all writes), why and since when. */
  health(): StoreHealth;
  /** Flushes, releases the data directory's lock. */
  close(): Promise<void>;
}

export interface StoreHealth {
  readonly ok: boolean;
  /** What went wrong, naming the file and the cause, while `ok` is false. */
  readonly problem?: string;
  /** ISO time of the failure `problem` describes. */
  readonly since?: string;
  /** Checkpoints have been failing since `warningSince` (writes still land; the journals grow to `journalBytes`). */
  readonly warning?: string;
  readonly warningSince?: string;
  readonly journalBytes?: number;
}

export interface PageQuery<T> {
  readonly prefix?: string;
  /** Only keys that sort after this one (a previous page's last key). */
  readonly after?: string;
  readonly limit: number;
  readonly accept?: (document: T) => boolean;
}

export interface Page<T> {
  readonly documents: T[];
  /** The last returned document's key when more documents follow that `accept` takes; undefined on the last page. */
  readonly next: string | undefined;
}

export interface CommitOptions {
  /**
   * The values are plain JSON data (objects, arrays, strings, finite numbers, booleans, null, and no property
   * set to undefined) that nobody changes afterwards: readers get them as given instead of a copy parsed back
   * from the journal, which saves a JSON.parse per write on a hot path. The test suite checks every such
   * commit (CHARTD_STORE_CHECKS=1): the value must equal what its JSON reads back as, and is frozen.
   */
  readonly asGiven?: boolean;
}

/** Base for errors that must stop start-up with a message naming the file. */
export class StoreError extends Error {
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Another live server holds the data directory. */
export class StoreLocked extends StoreError {}

/** A data file cannot be read as what it should be; nothing is reset. */
export class StoreCorrupt extends StoreError {}

/**
 * The store cannot be reached (PostgreSQL down, restarting, out of connections, too slow to answer): nothing was
 * applied, and the caller may ask again after `retryAfter` seconds. A subclass of StoreError, so a transport
 * answers it as it answers a store that cannot write (503 with Retry-After).
 */
export class StoreUnavailable extends StoreError {
  /** A commit whose answer was lost and whose outcome could not be learnt: it may have been applied after all. */
  readonly inDoubt: boolean;

  constructor(message: string, readonly retryAfter: number, options: { cause?: unknown; inDoubt?: boolean } = {}) {
    super(message);
    if (options.cause !== undefined) this.cause = options.cause;
    this.inDoubt = options.inDoubt ?? false;
  }
}

/**
 * A commit's expectation (a document's revision) or its lease did not hold: nothing was applied. The caller
 * rebuilds its change from what is stored now and commits again; `keys` names each document that differed.
 */
export class WriteConflict extends Error {
  constructor(readonly keys: readonly { readonly collection: string; readonly key: string }[]) {
    const named = keys.slice(0, 5).map(({ collection, key }) => `${collection}/${key}`).join(', ');
    const more = keys.length > 5 ? ` and ${keys.length - 5} more` : '';
    super(`the commit was not applied: ${named}${more} changed since it was read, or its lease is no longer held`);
    this.name = new.target.name;
  }
}
