// One transaction for a group of commits: lock the rows, leave out the members that conflict, apply the rest, notify.

import type pg from 'pg';
import type { Change } from '../port.js';
import { StoreUnavailable } from '../store.js';
import { CHANNEL, encodeChanges } from './changes.js';
import { classify, RETRY_AFTER_SECONDS } from './classify.js';
import { keysOf, planCommit, type Current, type Member, type Plan, type Row } from './commitPlan.js';
import type { Database, Prepared } from './database.js';
import { SCHEMA } from './migrations.js';

/** Attempts at a group that keeps meeting deadlocks or documents created under it, before it answers 503. */
const MAX_ATTEMPTS = 5;

// Sorted, so replicas locking overlapping documents take the locks in one order and cannot deadlock.
export const LOCK_SQL: Prepared = {
  name: 'chartd_lock',
  text: `
  SELECT collection, key, revision::float8 AS revision, lease_owner, lease_epoch::float8 AS lease_epoch
  FROM ${SCHEMA}.documents
  WHERE (collection, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  ORDER BY collection, key
  FOR UPDATE`,
};

/**
 * The commit's statements are prepared: parsed and planned once per connection. A generic plan cannot see the
 * arrays' lengths, and on a small table chose sequential scans that ran 3-4× slower than planning each time; with
 * those scans and hash and merge joins turned off for the transaction alone, each key is looked up in the primary
 * key whatever the table holds (test/store/postgresCommitPlans.test.ts). Set with BEGIN, in its round trip.
 */
export const BEGIN_SQL = `BEGIN; SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`;

const UPDATE_PART = `updated AS (
    UPDATE ${SCHEMA}.documents AS d
    SET value = u.value, revision = u.revision, due = u.due, lease_owner = NULL, lease_until = NULL
    FROM unnest($1::text[], $2::text[], $3::json[], $4::bigint[], $5::bigint[]) AS u(collection, key, value, revision, due)
    WHERE d.collection = u.collection AND d.key = u.key
  )`;
const INSERT_PART = `inserted AS (
    INSERT INTO ${SCHEMA}.documents (collection, key, value, revision, due)
    SELECT * FROM unnest($1::text[], $2::text[], $3::json[], $4::bigint[], $5::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING 1
  )`;
const DELETE_PART = `deleted AS (
    DELETE FROM ${SCHEMA}.documents AS d
    USING unnest($1::text[], $2::text[]) AS u(collection, key)
    WHERE d.collection = u.collection AND d.key = u.key
  )`;

/** Which kinds of change a group makes: each shape has a statement of its own, leaving out what it does not do. */
export interface Shape {
  readonly updates: boolean;
  readonly inserts: boolean;
  readonly deletes: boolean;
}

const applyStatements = new Map<string, Prepared>();

/**
 * One round trip for every change of the group and its notifications; the xid lets a lost COMMIT answer be asked
 * after. The rows inserted are counted: one missing was created by another replica meanwhile.
 */
export function applyStatement(shape: Shape): Prepared {
  const name = `chartd_apply_${Number(shape.updates)}${Number(shape.inserts)}${Number(shape.deletes)}`;
  let statement = applyStatements.get(name);
  if (statement) return statement;
  let next = 1;
  const numbered = (part: string, count: number) => {
    const text = part.replace(/\$(\d+)/g, (_, at: string) => `$${next + Number(at) - 1}`);
    next += count;
    return text;
  };
  const parts = [
    ...(shape.updates ? [numbered(UPDATE_PART, 5)] : []),
    ...(shape.inserts ? [numbered(INSERT_PART, 5)] : []),
    ...(shape.deletes ? [numbered(DELETE_PART, 2)] : []),
    `notified AS (SELECT count(pg_notify('${CHANNEL}', payload)) AS count FROM unnest($${next}::text[]) AS payload)`,
  ];
  const inserted = shape.inserts ? '(SELECT count(*) FROM inserted)::int' : '0';
  statement = { name, text: `WITH ${parts.join(', ')} SELECT ${inserted} AS inserted, (SELECT count FROM notified) AS notified, txid_current()::text AS xid` };
  applyStatements.set(name, statement);
  return statement;
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

async function attemptCommit(db: Database, members: readonly Member[], { origin, landed }: Origin): Promise<Verdicts | 'again'> {
  const client = await db.begin('a commit', BEGIN_SQL);
  let xid: string | undefined;
  let plan: Plan | undefined;
  try {
    const keys = keysOf(members);
    const locked = await client.query<LockedRow>({ ...LOCK_SQL, values: [keys.map((k) => k.collection), keys.map((k) => k.key)] });
    plan = planCommit(members, locked.rows.map(currentOf));
    if (plan.changes.length === 0) return await endWith(db, client, 'ROLLBACK', plan.conflicts);
    const shape = { updates: plan.updates.length > 0, inserts: plan.inserts.length > 0, deletes: plan.deletes.length > 0 };
    const applied = await client.query<{ inserted: number; xid: string }>({ ...applyStatement(shape), values: applyValues(plan, shape, origin) });
    // A document this group saw missing was created by another replica meanwhile: look at it again.
    if (applied.rows[0]!.inserted !== plan.inserts.length) return await endWith(db, client, 'ROLLBACK', 'again');
    xid = applied.rows[0]!.xid;
    const verdicts = await endWith(db, client, 'COMMIT', plan.conflicts);
    landed(plan.changes);
    return verdicts;
  } catch (error) {
    if (xid !== undefined && !isRefusal(error)) {
      client.release(error as Error);
      const verdicts = await settleInDoubt(db, xid, error, plan!.conflicts);
      landed(plan!.changes);
      return verdicts;
    }
    const kind = classify(error);
    if (kind === 'unavailable') {
      client.release(error as Error);
      throw db.failed(error, 'a commit');
    }
    await rollback(client);
    if (kind === 'retry') return 'again';
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

function applyValues(plan: Plan, shape: Shape, origin: string): unknown[] {
  const columns = (rows: readonly Row[]) => [rows.map((r) => r.collection), rows.map((r) => r.key), rows.map((r) => r.json), rows.map((r) => r.revision), rows.map((r) => r.due)];
  const keys = (changes: readonly Change[]) => [changes.map((c) => c.collection), changes.map((c) => c.key)];
  return [
    ...(shape.updates ? columns(plan.updates) : []),
    ...(shape.inserts ? columns(plan.inserts) : []),
    ...(shape.deletes ? keys(plan.deletes) : []),
    encodeChanges(plan.changes, origin, plan.texts),
  ];
}
