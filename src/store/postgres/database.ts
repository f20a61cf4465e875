// The connection pool to PostgreSQL: every connection's settings and timeouts, failures turned into StoreUnavailable, health.

import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Clock } from '../../runtime/clock.js';
import type { StoreLog } from '../lock.js';
import { StoreError, type StoreHealth } from '../store.js';
import { classify, unavailable } from './classify.js';
import type { PostgresSettings } from './settings.js';

/** Chosen so that an unreachable or restarting PostgreSQL fails a request within seconds, never hangs it. */
export const TIMEOUTS = {
  /** Opening a connection, or waiting for a free one: a reachable PostgreSQL answers in milliseconds, so after 3 s it is not. */
  connectMs: 3_000,
  /** Server side: the store's statements take milliseconds; one waiting longer on a row lock a stuck replica holds gives up. */
  statementMs: 5_000,
  /** Client side, beyond statement_timeout: a server that stopped answering at all (a cut network sends no reset). */
  queryMs: 7_000,
  /** A replica frozen mid-transaction (SIGSTOP, swapped out) loses its session, and so its row locks, after this. */
  idleInTransactionMs: 15_000,
  /** TCP keepalive on idle connections, so a dead peer is noticed without a query. */
  keepAliveMs: 10_000,
  /** Idle pooled connections close after this; the pool opens new ones on demand. */
  idleMs: 30_000,
} as const;

/** The settings of every connection the store opens (the pool's and the change feed's). */
export function connectionConfig(settings: PostgresSettings): pg.ClientConfig {
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
    application_name: settings.applicationName,
    ssl: sslOptions(settings),
    connectionTimeoutMillis: TIMEOUTS.connectMs,
    statement_timeout: TIMEOUTS.statementMs,
    query_timeout: TIMEOUTS.queryMs,
    idle_in_transaction_session_timeout: TIMEOUTS.idleInTransactionMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: TIMEOUTS.keepAliveMs,
    // A commit is acknowledged once flushed to the WAL (and to synchronous standbys), whatever the server's default.
    options: '-c synchronous_commit=on',
  };
}

function sslOptions(settings: PostgresSettings): pg.ClientConfig['ssl'] {
  if (settings.sslMode === 'disable') return false;
  if (settings.sslMode === 'require') return { rejectUnauthorized: false };
  if (settings.sslRootCert === undefined) return { rejectUnauthorized: true };
  try {
    return { rejectUnauthorized: true, ca: readFileSync(settings.sslRootCert, 'utf8') };
  } catch (error) {
    throw new StoreError(`cannot read sslrootcert ${settings.sslRootCert}: ${(error as Error).message}`, settings.sslRootCert);
  }
}

/** How long a commit whose answer was lost waits to learn its outcome, asking every OUTCOME_POLL_MS. */
const OUTCOME_WAIT_MS = 5_000;
const OUTCOME_POLL_MS = 100;

export class Database {
  private readonly pool: pg.Pool;
  /** The first of a run of failures (at clock time), until an operation succeeds again. */
  private failure: { readonly at: number; readonly problem: string } | undefined;

  constructor(readonly settings: PostgresSettings, private readonly log: StoreLog, size: number, private readonly clock: Clock) {
    this.pool = new pg.Pool({ ...connectionConfig(settings), max: size, idleTimeoutMillis: TIMEOUTS.idleMs });
    // An idle connection PostgreSQL ended (restart, pg_terminate_backend) reports here; the pool has dropped it already.
    this.pool.on('error', (error) => this.log('warn', `an idle connection to PostgreSQL at ${settings.shown} was lost (${error.message}); the pool opens another when needed`));
    // A connection in use can report its end between two statements: the next statement on it fails and drops it.
    this.pool.on('connect', (client) => client.on('error', (error) => this.log('info', `a connection to PostgreSQL at ${settings.shown} in use was lost (${error.message})`)));
  }

  /** One statement on a pooled connection. A connection found dead at its first use is replaced once when `retry`. */
  async query<R extends pg.QueryResultRow>(what: string, statement: string | Prepared, values: readonly unknown[], retry = true): Promise<pg.QueryResult<R>> {
    const client = await this.connect(what);
    try {
      const result = await client.query<R>(queryConfig(statement, values));
      client.release();
      this.succeeded();
      return result;
    } catch (error) {
      client.release(classify(error) === 'unavailable' ? (error as Error) : undefined);
      if (retry && isDeadConnection(error)) return this.query(what, statement, values, false);
      throw this.failed(error, what);
    }
  }

  /** A pooled connection; release it with the error that ended its use, if one may have broken it. */
  async connect(what: string): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.failed(error, what);
    }
  }

  /**
   * A pooled connection in a transaction, begun by `statement` (BEGIN, and settings of the transaction in the same
   * round trip). A connection found dead at BEGIN is replaced once: nothing ran on it.
   */
  async begin(what: string, statement = 'BEGIN'): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.connect(what);
      try {
        await client.query(statement);
        return client;
      } catch (error) {
        client.release(error as Error);
        if (attempt > 1 || !isDeadConnection(error)) throw this.failed(error, what);
      }
    }
  }

  /**
   * Whether the transaction `xid`, whose COMMIT went unanswered, landed: asked until PostgreSQL answers or
   * OUTCOME_WAIT_MS pass (undefined then). Its session may still be ending, so "in progress" is asked again.
   */
  async outcomeOf(xid: string): Promise<'committed' | 'aborted' | undefined> {
    const end = this.clock.now() + OUTCOME_WAIT_MS;
    while (this.clock.now() < end) {
      try {
        const { rows } = await this.query<{ status: string | null }>('asking whether a commit landed', 'SELECT txid_status($1::bigint) AS status', [xid]);
        const status = rows[0]?.status;
        if (status === 'committed' || status === 'aborted') return status;
      } catch (error) {
        // Still unreachable: ask again until the time is up; anything else is a fault of ours.
        if (classify(error) !== 'unavailable') throw error;
      }
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, OUTCOME_POLL_MS));
    }
    return undefined;
  }

  /** The error to throw for `error`: StoreUnavailable (noted for health()) when PostgreSQL could not be reached. */
  failed(error: unknown, what: string, inDoubt = false): unknown {
    if (classify(error) !== 'unavailable') return error;
    const failure = unavailable(error, what, this.settings.shown, inDoubt);
    this.failure ??= { at: this.clock.now(), problem: failure.message };
    return failure;
  }

  succeeded(): void {
    if (this.failure) this.log('info', `PostgreSQL at ${this.settings.shown} answers again`);
    this.failure = undefined;
  }

  health(): StoreHealth {
    return this.failure ? { ok: false, problem: this.failure.problem, since: new Date(this.failure.at).toISOString() } : { ok: true };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A statement run often enough to be parsed and planned once per connection (pg keeps it by name). Only for plans
 * that suit every value: a LIKE on a parameter, say, loses its index once PostgreSQL settles on a generic plan.
 */
export interface Prepared {
  readonly name: string;
  readonly text: string;
}

function queryConfig(statement: string | Prepared, values: readonly unknown[]): pg.QueryConfig {
  return typeof statement === 'string' ? { text: statement, values: values as unknown[] } : { ...statement, values: values as unknown[] };
}

/**
 * The connection died before this use (PostgreSQL restarted, or its backend was terminated, while it sat in the
 * pool): nothing ran, and a fresh connection may well work.
 */
export function isDeadConnection(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return error.code === '57P01' || error.code === '57P02';
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  return error instanceof Error && /Connection terminated unexpectedly|not queryable/.test(error.message);
}
