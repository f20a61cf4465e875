// The commit's prepared statements, planned once per connection: their generic plans look each key up in the primary key.

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { applyStatement, BEGIN_SQL, LOCK_SQL } from '../../src/store/postgres/commitTransaction.js';
import { databaseUrl } from '../support/postgres.js';
import { postgresForFile } from './postgresStores.js';

const { stores, server } = postgresForFile();

/** The generic plan of `text` with these arguments, in a transaction begun as a commit's is. */
async function genericPlan(client: pg.Client, text: string, args: readonly string[]): Promise<string> {
  await client.query(BEGIN_SQL);
  try {
    await client.query(`PREPARE probe AS ${text}`);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE probe(${args.join(', ')})`);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
    await client.query('DEALLOCATE ALL');
  }
}

describe('PostgreSQL store: the commit\'s plans', () => {
  it('locks, updates and deletes through the primary key, on a small table and a large one, for any number of keys', async () => {
    const database = await stores.freshDatabase();
    const store = await stores.open(database);
    const client = new pg.Client({ connectionString: databaseUrl(server(), database) });
    await client.connect();
    try {
      const keys = `'{c,c}', '{a,b}'`;
      const rows = `${keys}, '{"1","2"}', '{2,2}', '{NULL,NULL}'`;
      const payloads = `'{x}'`;
      for (const size of [10, 3_000]) {
        await store.commit(Array.from({ length: size }, (_, at) => ({ collection: 'c', key: `k${size}-${at}`, value: { at } })));
        await client.query('ANALYZE chartd.documents');
        const plans = [
          await genericPlan(client, LOCK_SQL.text, [keys]),
          await genericPlan(client, applyStatement({ updates: true, inserts: true, deletes: true }).text, [rows, rows, keys, payloads]),
          await genericPlan(client, applyStatement({ updates: true, inserts: false, deletes: false }).text, [rows, payloads]),
        ];
        for (const plan of plans) {
          expect(plan).toContain('documents_pkey');
          expect(plan).not.toMatch(/Seq Scan|Hash Join|Merge Join/);
          // A generic plan: the statement is not planned again at each execution.
          expect(plan).not.toMatch(/'\{a,b\}'/);
        }
      }
    } finally {
      await client.end();
    }
  });
});
