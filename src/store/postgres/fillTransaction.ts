// A copy into PostgreSQL as one transaction: the table locked, checked empty (or emptied), filled, committed whole or not at all.

import type pg from 'pg';
import { TargetNotEmpty, type Filling } from '../copy/filling.js';
import type { Stored } from '../port.js';
import { StoreError } from '../store.js';
import { ANYTHING, CHANNEL } from './changes.js';
import { encodeMember } from './commitPlan.js';
import { rollback } from './commitTransaction.js';
import type { Database } from './database.js';
import { SCHEMA } from './migrations.js';

/** How long the copy waits for the table's lock: a replica's statements hold it for milliseconds, so longer means one is busy. */
const LOCK_WAIT = '5s';

const INSERT_SQL = `
  INSERT INTO ${SCHEMA}.documents (collection, key, value, revision, due)
  SELECT $1, key, value, 1, due FROM unnest($2::text[], $3::json[], $4::bigint[]) AS u(key, value, due)`;

/**
 * Begins the transaction. Replicas serving on the database wait for it to end (their requests may time out and
 * answer 503), and see either none of the copy or all of it. `force` deletes what the database holds, in the same
 * transaction; without it, a database holding documents is refused (TargetNotEmpty).
 */
export async function beginFill(db: Database, force: boolean): Promise<Filling> {
  const shown = `PostgreSQL at ${db.settings.shown}`;
  const client = await db.begin('a copy');
  try {
    // A long copy must not meet the store's own per-statement limit, made for requests.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query(`SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
    await client.query(`LOCK TABLE ${SCHEMA}.documents IN ACCESS EXCLUSIVE MODE`).catch((error: unknown) => {
      throw (error as { code?: unknown }).code === '55P03'
        ? new StoreError(`the store in ${shown} is in use (a chartd serving on it?) and its table could not be locked within ${LOCK_WAIT}: stop every replica on it, then copy`)
        : error;
    });
    const { rows } = await client.query<{ collection: string; count: number }>(
      `SELECT collection, count(*)::float8 AS count FROM ${SCHEMA}.documents GROUP BY collection ORDER BY collection`);
    if (rows.length && !force) throw new TargetNotEmpty(shown, rows);
    if (rows.length) await client.query(`TRUNCATE ${SCHEMA}.documents`);
  } catch (error) {
    await rollback(client);
    throw db.failed(error, 'a copy');
  }
  return transactionFilling(db, client);
}

function transactionFilling(db: Database, client: pg.PoolClient): Filling {
  let open = true;
  const run = async <T>(task: () => Promise<T>): Promise<T> => {
    if (!open) throw new StoreError('the copy into PostgreSQL has already ended');
    try {
      return await task();
    } catch (error) {
      open = false;
      await rollback(client);
      throw db.failed(error, 'a copy');
    }
  };
  return {
    add: (collection, documents) => run(async () => {
      const { writes } = encodeMember(documents.map(({ key, value }: Stored<unknown>) => ({ collection, key, value })), undefined);
      await client.query(INSERT_SQL, [collection, writes.map((write) => write.key), writes.map((write) => write.json), writes.map((write) => write.due)]);
    }),
    finish: () => run(async () => {
      // Anything may have changed, for any replica still listening.
      await client.query('SELECT pg_notify($1, $2)', [CHANNEL, ANYTHING]);
      await client.query('COMMIT');
      open = false;
      client.release();
      db.succeeded();
    }),
    abandon: async () => {
      if (!open) return;
      open = false;
      await rollback(client);
    },
  };
}
