// One transaction for a group of commits in two round trips: lock the rows, leave out the members that conflict, apply the rest, notify, commit.

import type pg from 'pg';
import type { Change } from '../port.js';
import { StoreUnavailable } from '../store.js';
import { encodeChanges } from './changes.js';
import { classify, RETRY_AFTER_SECONDS } from './classify.js';
import { keysOf, planCommit, type Current, type Member, type Plan, type Row } from './commitPlan.js';
import type { Database } from './database.js';
import { CREATED_MEANWHILE, SCHEMA } from './migrations.js';

/** Attempts at a group that keeps meeting deadlocks or documents created under it, before it answers 503. */
const MAX_ATTEMPTS = 5;

/**
 * The commit's statements run inside lock_documents and apply_documents (migrations.ts), whose plans PL/pgSQL keeps
 * for the session. A generic plan cannot see how many keys come, and on a small table chose sequential scans that
 * ran 3-4× slower than planning each time; with those scans and hash and merge joins turned off for the transaction
 * alone, each key is looked up in the primary key whatever the table holds (test/store/postgresCommitPlans.test.ts).
 */
export const BEGIN_SQL = `BEGIN; SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`;

/**
 * The first round trip: BEGIN, the rows locked (sorted, so replicas locking overlapping documents take the locks in
 * one order and cannot deadlock), and the transaction's xid, which lets a COMMIT whose answer is lost be asked after.
 */
export function lockStatement(keys: readonly Change[]): string {
  const listed = JSON.stringify(keys.map(({ collection, key }) => [collection, key]));
  return `${BEGIN_SQL}; SELECT * FROM ${SCHEMA}.lock_documents(${dollarQuoted(listed)}::jsonb); SELECT txid_current()::text AS xid`;
}

/** The second: every change of the group and its notifications, and COMMIT. */
export function applyStatement(plan: Plan, origin: string): string {
  const rows = (list: readonly Row[]) => list.map((row) => [row.collection, row.key, row.json, row.revision, row.due]);
  const planned = JSON.stringify({
    updates: rows(plan.updates),
    inserts: rows(plan.inserts),
    deletes: plan.deletes.map(({ collection, key }) => [collection, key]),
    payloads: encodeChanges(plan.changes, origin),
  });
  return `SELECT ${SCHEMA}.apply_documents(${dollarQuoted(planned)}::jsonb); COMMIT`;
}

/**
 * `text` as a dollar-quoted literal, whose tag it does not hold (nor a prefix of it that the closing tag could
 * complete), so nothing in it can end the literal early. Text from JSON.stringify holds no NUL.
 */
export function dollarQuoted(text: string): string {
  let tag = 'chartd';
  for (let n = 1; text.includes(`$${tag}`); n += 1) tag = `chartd${n}`;
  return `$${tag}$${text}$${tag}$`;
}

/** Per member: the documents it conflicted on, or undefined once it is durable. */
export type Verdicts = Plan['conflicts'];

/** Where a commit's changes go: the NOTIFY names `origin`, and `landed` hears them once they are committed. */
export interface Origin {
  readonly origin: string;
  readonly landed: (changes: readonly Change[]) => void;
}

/** Commits `members` in one transaction; throws StoreUnavailable (nothing applied) or PostgreSQL's refusal. */
export async function commitTransaction(db: Database, members: readonly Member[], origin: Origin): Promise<Verdicts> {
  for (let attempt = 1; ; attempt += 1) {
    const verdicts = await attemptCommit(db, members, origin);
    if (verdicts !== 'again') return verdicts;
    if (attempt === MAX_ATTEMPTS) {
      throw new StoreUnavailable(`PostgreSQL at ${db.settings.shown}: ${MAX_ATTEMPTS} attempts at a commit met deadlocks or documents created meanwhile; nothing was applied`, RETRY_AFTER_SECONDS);
    }
  }
}

/**
 * Two round trips: BEGIN with the rows locked, then the changes applied with COMMIT. A statement that fails leaves
 * the transaction aborted (the rest of its round trip is skipped), so only an answer lost after the second was
 * sent leaves the outcome in doubt; PostgreSQL is asked then.
 */
async function attemptCommit(db: Database, members: readonly Member[], { origin, landed }: Origin): Promise<Verdicts | 'again'> {
  const keys = keysOf(members);
  const { client, results } = await db.begin('a commit', lockStatement(keys));
  let committing: string | undefined;
  let plan: Plan | undefined;
  try {
    const [, , locked, begun] = results as [unknown, unknown, pg.QueryResult<LockedRow>, pg.QueryResult<{ xid: string }>];
    plan = planCommit(members, locked.rows.map(currentOf));
    if (plan.changes.length === 0) return await endWith(db, client, 'ROLLBACK', plan.conflicts);
    committing = begun.rows[0]!.xid;
    await client.query(applyStatement(plan, origin));
    client.release();
    db.succeeded();
    landed(plan.changes);
    return plan.conflicts;
  } catch (error) {
    if (committing !== undefined && !isRefusal(error)) {
      client.release(error as Error);
      const verdicts = await settleInDoubt(db, committing, error, plan!.conflicts);
      landed(plan!.changes);
      return verdicts;
    }
    const kind = classify(error);
    if (kind === 'unavailable') {
      client.release(error as Error);
      throw db.failed(error, 'a commit');
    }
    await rollback(client);
    // A document this group found missing was created by another replica meanwhile: look at it again.
    if (kind === 'retry' || (error as { code?: unknown }).code === CREATED_MEANWHILE) return 'again';
    throw error;
  }
}

/** Ends the transaction with `command` and answers `outcome`. */
async function endWith<T>(db: Database, client: pg.PoolClient, command: 'COMMIT' | 'ROLLBACK', outcome: T): Promise<T> {
  await client.query(command);
  client.release();
  db.succeeded();
  return outcome;
}

/** After a failure PostgreSQL reported: roll back, or drop the connection if even that fails (it ends the transaction too). */
export async function rollback(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK');
    client.release();
  } catch (error) {
    client.release(error as Error);
  }
}

/** COMMIT went out and its answer did not come back: PostgreSQL tells, if it can be reached, whether it landed. */
async function settleInDoubt(db: Database, xid: string, error: unknown, verdicts: Verdicts): Promise<Verdicts> {
  const status = await db.outcomeOf(xid);
  if (status === 'committed') return verdicts;
  throw db.failed(error, 'a commit', status === undefined);
}

/** An ERROR PostgreSQL answered (not a FATAL that ended the session): the transaction did not commit. */
function isRefusal(error: unknown): boolean {
  return (error as { severity?: unknown }).severity === 'ERROR';
}

interface LockedRow {
  readonly collection: string;
  readonly key: string;
  readonly revision: number;
  readonly lease_owner: string | null;
  readonly lease_epoch: number;
}

function currentOf(row: LockedRow): Current {
  return { collection: row.collection, key: row.key, revision: row.revision, leaseOwner: row.lease_owner, leaseEpoch: row.lease_epoch };
}
