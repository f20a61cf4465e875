// The PostgreSQL store: the store port on one database that any number of chartd replicas share.

import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Filling } from '../copy/filling.js';
import type { StoreLog } from '../lock.js';
import type { Change, ChangeListener, ClaimQuery, CommitOptions, Lease, Page, PageQuery, Store, StoreHealth, Stored, Write } from '../port.js';
import { StoreError, StoreUnavailable } from '../store.js';
import { classify, RETRY_AFTER_SECONDS } from './classify.js';
import { CachedReads } from './cachedReads.js';
import { ChangeFeed } from './changeFeed.js';
import { barrierChannel } from './changes.js';
import { commitTransaction } from './commitTransaction.js';
import { beginFill } from './fillTransaction.js';
import { encodeMember } from './commitPlan.js';
import { Database } from './database.js';
import { GroupCommit } from './groupCommit.js';
import { documentId } from './readCache.js';
import { claimDue, renewLeases } from './leases.js';
import { migrateDatabase, SCHEMA } from './migrations.js';
import type { PostgresSettings } from './settings.js';

export interface PostgresStoreOptions {
  readonly log?: StoreLog;
  /** Connections in the pool (the change feed has one more of its own). */
  readonly poolSize?: number;
  /** Documents kept in memory to answer reads from, at most. */
  readonly cacheEntries?: number;
  /** How long a read barrier may take to come back before the change feed is dropped and reads go to PostgreSQL. */
  readonly barrierTimeoutMs?: number;
  /** Times the read barriers, the change feed's reconnections and heartbeat, and the wait for a commit's outcome. */
  readonly clock?: Clock;
}

/** Enough for reads beside the one commit transaction in flight, and few enough that 3 replicas stay far under max_connections. */
const DEFAULT_POOL_SIZE = 10;

/** About 10-20 MB of snapshots; an instance read or changed lately is kept. */
const DEFAULT_CACHE_ENTRIES = 10_000;

/** Far beyond a barrier's usual millisecond, short enough that reads waiting on a silent feed fall back soon. */
const DEFAULT_BARRIER_TIMEOUT_MS = 2_000;

/** Rows a page() reads at a time when `accept` may skip some. */
const PAGE_BATCH = 200;

const GET_SQL = { name: 'chartd_get', text: `SELECT key, value, revision::float8 AS revision FROM ${SCHEMA}.documents WHERE collection = $1 AND key = $2` };

interface DocumentRow {
  readonly key: string;
  readonly value: unknown;
  readonly revision: number;
}

export class PostgresStore implements Store {
  private readonly commits: GroupCommit;
  private closing: Promise<void> | undefined;

  private constructor(private readonly db: Database, private readonly feed: ChangeFeed, private readonly reads: CachedReads) {
    const origin = { origin: feed.origin, landed: (changes: readonly Change[]) => feed.tell(reads.carried.landed(changes)) };
    this.commits = new GroupCommit((members) => commitTransaction(db, members, origin));
  }

  /** Connects, brings the schema up to date (safe with replicas starting at once), and starts listening for changes. */
  static async open(settings: PostgresSettings, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const log = options.log ?? (() => {});
    const clock = options.clock ?? systemClock;
    const db = new Database(settings, log, options.poolSize ?? DEFAULT_POOL_SIZE, clock);
    const origin = randomBytes(9).toString('base64url');
    let feed: ChangeFeed | undefined;
    const reads = new CachedReads(origin, (collection, keys) => queryDocuments(db, collection, keys),
      (number) => (feed ? feed.sendBarrier(number) : Promise.reject(new Error('the change feed is not listening yet'))),
      { entries: options.cacheEntries ?? DEFAULT_CACHE_ENTRIES, barrierTimeoutMs: options.barrierTimeoutMs ?? DEFAULT_BARRIER_TIMEOUT_MS, clock },
      (why) => feed?.abandon(why));
    const observer = {
      heard: reads.heard.bind(reads), barrier: reads.barrier.bind(reads), lost: reads.lost.bind(reads),
      // The feed back after a loss proves PostgreSQL answers again, even on a replica nobody asks anything meanwhile.
      back: () => {
        reads.back();
        db.succeeded();
      },
    };
    try {
      await migrateDatabase(settings);
      feed = await ChangeFeed.start(settings, log, { clock, observer, origin });
      return new PostgresStore(db, feed, reads);
    } catch (error) {
      await db.close();
      throw openFailure(error, settings.shown);
    }
  }

  /** From memory once a read barrier came back (see cachedReads.ts), else from PostgreSQL. */
  get<T>(collection: string, key: string): Promise<Stored<T> | undefined> {
    return this.reads.get<T>(collection, key);
  }

  getMany<T>(collection: string, keys: readonly string[]): Promise<Map<string, Stored<T>>> {
    return keys.length === 0 ? Promise.resolve(new Map()) : this.reads.getMany<T>(collection, keys);
  }

  /** Reads on from `after` in batches until `limit` documents `accept` takes, and one more to know a page follows. */
  async page<T>(collection: string, { prefix = '', after, limit, accept }: PageQuery<T>): Promise<Page<Stored<T>>> {
    const batch = accept ? Math.max(PAGE_BATCH, limit + 1) : limit + 1;
    const documents: Stored<T>[] = [];
    let cursor = after;
    for (;;) {
      const { rows } = await this.db.query<DocumentRow>(`reading ${collection}`,
        `SELECT key, value, revision::float8 AS revision FROM ${SCHEMA}.documents
         WHERE collection = $1 AND key LIKE $2 AND ($3::text IS NULL OR key > $3)
         ORDER BY key LIMIT $4`, [collection, likePrefix(prefix), cursor ?? null, batch]);
      this.reads.carried.answeredCollection(collection);
      for (const row of rows as Stored<T>[]) {
        if (accept && !accept(row.value)) continue;
        if (documents.length === limit) return { documents, next: documents.at(-1)?.key };
        documents.push(row);
      }
      if (rows.length < batch) return { documents, next: undefined };
      cursor = rows.at(-1)!.key;
    }
  }

  async count(collection: string, prefix = ''): Promise<number> {
    const { rows } = await this.db.query<{ count: number }>(`counting ${collection}`,
      `SELECT count(*)::float8 AS count FROM ${SCHEMA}.documents WHERE collection = $1 AND key LIKE $2`, [collection, likePrefix(prefix)]);
    return rows[0]!.count;
  }

  /** Steps from one collection to the next along the primary key's index, so a few collections of millions cost a few lookups. */
  async collections(): Promise<string[]> {
    const { rows } = await this.db.query<{ collection: string }>('listing the collections',
      `WITH RECURSIVE names AS (
         SELECT min(collection) AS collection FROM ${SCHEMA}.documents
         UNION ALL
         SELECT (SELECT min(collection) FROM ${SCHEMA}.documents WHERE collection > names.collection) FROM names WHERE names.collection IS NOT NULL
       )
       SELECT collection FROM names WHERE collection IS NOT NULL`, []);
    return rows.map((row) => row.collection);
  }

  commit(writes: readonly Write[], { fence, issued }: CommitOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(new StoreError(`the store in PostgreSQL at ${this.db.settings.shown} is closed`));
    try {
      const member = encodeMember(writes, fence);
      if (writes.length === 0 && !fence) {
        issued?.();
        return Promise.resolve();
      }
      const settled = this.reads.carried.commit(member.writes.map((write) => documentId(write.collection, write.key)));
      const committed = this.commits.submit(member, issued);
      committed.then(settled, settled);
      return committed;
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  async claim<T>(collection: string, query: ClaimQuery): Promise<(Stored<T> & { lease: Lease })[]> {
    const claimed = await claimDue<T>(this.db, collection, query);
    if (claimed.length) this.reads.carried.answeredCollection(collection);
    return claimed;
  }

  renew(collection: string, keys: readonly string[], lease: { owner: string; until: number }): Promise<string[]> {
    return renewLeases(this.db, collection, keys, lease);
  }

  /** A copy into this database in one transaction (see fillTransaction.ts): refused when it holds documents, unless `force`. */
  fill(force: boolean): Promise<Filling> {
    return beginFill(this.db, force);
  }

  onChange(listener: ChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  /** Not ok while PostgreSQL does not answer; a warning while the change feed is lost (it reconnects by itself). */
  health(): StoreHealth {
    const lost = this.feed.problem();
    return { ...this.db.health(), ...(lost ? { warning: lost.problem, warningSince: lost.since } : {}) };
  }

  /** commit() calls made so far and the groups (transactions) they were made in; what reads found in memory. */
  stats(): { readonly commits: number; readonly groups: number; readonly reads: ReturnType<CachedReads['stats']> } {
    return { ...this.commits.counts, reads: this.reads.stats() };
  }

  /** Waits for commits already made, then closes every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.commits.idle();
      await this.feed.close();
      await this.db.close();
    })();
    return this.closing;
  }
}

/** Those of `keys` that exist. One key is a named statement; several are planned each time, not prepared (in bench/replica-statements.mjs a prepared one ran 3× slower). */
async function queryDocuments(db: Database, collection: string, keys: readonly string[]): Promise<Map<string, Stored<unknown>>> {
  const { rows } = keys.length === 1
    ? await db.query<DocumentRow>(`reading ${collection}/${keys[0]!}`, GET_SQL, [collection, keys[0]])
    : await db.query<DocumentRow>(`reading ${keys.length} of ${collection}`,
      `SELECT key, value, revision::float8 AS revision FROM ${SCHEMA}.documents WHERE collection = $1 AND key = ANY($2::text[])`, [collection, keys]);
  return new Map(rows.map((row) => [row.key, row]));
}

/** Why open() failed, naming the database: StoreUnavailable while PostgreSQL cannot be reached, so a start-up may wait. */
function openFailure(error: unknown, shown: string): Error {
  if (error instanceof StoreError && !(error instanceof StoreUnavailable)) return error;
  const cause = error instanceof StoreUnavailable ? error.cause : error;
  const message = `cannot open the store in PostgreSQL at ${shown}: ${cause instanceof Error ? cause.message : String(cause)}`;
  return classify(cause) === 'unavailable' ? new StoreUnavailable(message, RETRY_AFTER_SECONDS, { cause }) : new StoreError(message);
}

/** A LIKE pattern matching the keys that start with `prefix` ("C" collation lets it use the primary key's index). */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}
