// The PostgreSQL store's schema, as numbered migrations applied at start-up, one replica at a time.

import pg from 'pg';
import { StoreError } from '../store.js';
import { connectionConfig } from './database.js';
import type { PostgresSettings } from './settings.js';

export interface Migration {
  readonly version: number;
  readonly what: string;
  readonly sql: string;
}

/** Everything lives in its own schema, so chartd's tables never meet an operator's in a shared database. */
export const SCHEMA = 'chartd';

/** Taken with pg_advisory_xact_lock by every replica before it looks at the schema: "chartd" in ASCII. */
const MIGRATION_LOCK = 0x63_68_61_72_74_64;

/** Append only: a migration once released never changes; a new one gets the next version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: 'documents with revisions, due times and leases',
    // Keys in "C" order are code-point order, the order page() promises whatever the database's collation.
    // value is json, not jsonb: it reads back exactly as written (NUL characters included, which jsonb refuses).
    sql: `
      CREATE TABLE ${SCHEMA}.documents (
        collection text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value json NOT NULL,
        revision bigint NOT NULL,
        due bigint,
        lease_owner text,
        lease_until bigint,
        lease_epoch bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (collection, key)
      );
      CREATE INDEX documents_due ON ${SCHEMA}.documents (collection, due) WHERE due IS NOT NULL;
      CREATE SEQUENCE ${SCHEMA}.lease_epochs;
    `,
  },
];

/** Migrates on a connection of its own without the store's timeouts: a replica waits for another's migration however long it takes. */
export async function migrateDatabase(settings: PostgresSettings): Promise<number> {
  const client = new pg.Client({ ...connectionConfig(settings), statement_timeout: false, query_timeout: undefined });
  // A session ended mid-migration reports here too; the migration's own statement fails with it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await migrate(client);
  } finally {
    await client.end();
  }
}

/**
 * Brings the schema to the newest version in one transaction under an advisory lock, so replicas starting at
 * once apply each migration exactly once and none reads a half-made schema. Answers the version now in place.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  const newest = migrations.at(-1)?.version ?? 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_version (
      version integer PRIMARY KEY, what text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(`SELECT coalesce(max(version), 0) AS version FROM ${SCHEMA}.schema_version`);
    const current = rows[0]!.version;
    if (current > newest) {
      throw new StoreError(`the database holds chartd's schema version ${current}, and this chartd knows versions up to ${newest}: run the newer chartd (on every replica)`);
    }
    for (const migration of migrations.filter(({ version }) => version > current)) {
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${SCHEMA}.schema_version (version, what) VALUES ($1, $2)`, [migration.version, migration.what]);
    }
    await client.query('COMMIT');
    return newest;
  } catch (error) {
    // The first failure is the one to report; a rollback that fails too means the session is gone, which ends it anyway.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
