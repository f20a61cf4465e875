// Claims and renewals of due work: each due document is leased to one claimer at a time, with an epoch that fences it.

import type { ClaimQuery, Lease, Stored } from '../port.js';
import type { Database } from './database.js';
import { SCHEMA } from './migrations.js';

// SKIP LOCKED: replicas claiming at once each take other rows instead of queueing on the same ones.
const CLAIM_SQL = `
  WITH due AS (
    SELECT key FROM ${SCHEMA}.documents
    WHERE collection = $1 AND due <= $2 AND (lease_until IS NULL OR lease_until <= $2)
    ORDER BY due, key
    LIMIT $3
    FOR UPDATE SKIP LOCKED
  )
  UPDATE ${SCHEMA}.documents AS d
  SET lease_owner = $4, lease_until = $5, lease_epoch = nextval('${SCHEMA}.lease_epochs')
  FROM due
  WHERE d.collection = $1 AND d.key = due.key
  RETURNING d.key, d.value, d.revision::float8 AS revision, d.due::float8 AS due, d.lease_epoch::float8 AS epoch`;

const RENEW_SQL = `
  UPDATE ${SCHEMA}.documents SET lease_until = $4
  WHERE collection = $1 AND key = ANY($2::text[]) AND lease_owner = $3
  RETURNING key`;

interface ClaimedRow {
  readonly key: string;
  readonly value: unknown;
  readonly revision: number;
  readonly due: number;
  readonly epoch: number;
}

export async function claimDue<T>(db: Database, collection: string, { owner, now, leaseMs, limit }: ClaimQuery): Promise<(Stored<T> & { lease: Lease })[]> {
  // Not retried on a lost connection: a claim that landed unanswered runs out after leaseMs and is claimed again.
  const { rows } = await db.query<ClaimedRow>(`claiming due ${collection}`, CLAIM_SQL, [collection, now, limit, owner, now + leaseMs], false);
  return rows
    .sort((a, b) => a.due - b.due || (a.key < b.key ? -1 : 1))
    .map(({ key, value, revision, epoch }) => ({ key, value: value as T, revision, lease: { owner, epoch } }));
}

export async function renewLeases(db: Database, collection: string, keys: readonly string[], { owner, until }: { owner: string; until: number }): Promise<string[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<{ key: string }>(`renewing leases on ${collection}`, RENEW_SQL, [collection, keys, owner, until]);
  return rows.map(({ key }) => key);
}
