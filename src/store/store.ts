// What every store shares beside the port (port.ts): its health, pages of documents, and the errors it throws.

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
