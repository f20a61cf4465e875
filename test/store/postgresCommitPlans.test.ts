// The commit's statements, planned once per session inside lock_documents and apply_documents: their plans look each key up in the primary key.

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { applyStatement, BEGIN_SQL, lockStatement } from '../../src/store/postgres/commitTransaction.js';
import type { Plan } from '../../src/store/postgres/commitPlan.js';
import { databaseUrl } from '../support/postgres.js';
import { postgresForFile } from './postgresStores.js';

const { stores, server } = postgresForFile();

/**
 * The plans of the statements the functions run when `statements` run in a transaction begun as a commit's,
 * reported by auto_explain as notices (nested statements included), then rolled back.
 */
async function nestedPlans(client: pg.Client, statements: readonly string[]): Promise<string[]> {
  const plans: string[] = [];
  const note = (notice: { message?: string }) => {
    if (notice.message?.startsWith('duration:')) plans.push(notice.message);
  };
  client.on('notice', note);
  try {
    await client.query(BEGIN_SQL);
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.query('ROLLBACK');
    client.off('notice', note);
  }
  // The functions' own statements, not the calls that ran them.
  return plans.filter((plan) => / on documents\b/.test(plan));
}

const twoKeys = [{ collection: 'c', key: 'a' }, { collection: 'c', key: 'b' }];
const row = (key: string) => ({ collection: 'c', key, json: '{"x":1}', revision: 2, due: null });
const everyKind: Plan = { conflicts: [], updates: [row('a')], inserts: [row('new')], deletes: [{ collection: 'c', key: 'b' }], changes: [] };

describe('PostgreSQL store: the commit\'s plans', () => {
  it('locks, updates, inserts and deletes through the primary key, on a small table and a large one', async () => {
    const database = await stores.freshDatabase();
    const store = await stores.open(database);
    const client = new pg.Client({ connectionString: databaseUrl(server(), database) });
    await client.connect();
    try {
      await client.query(`LOAD 'auto_explain'`);
      await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = 'notice'`);
      for (const size of [10, 3_000]) {
        await store.commit(Array.from({ length: size }, (_, at) => ({ collection: 'c', key: `k${size}-${at}`, value: { at } })));
        await client.query('ANALYZE chartd.documents');
        // Twice over, so the plans PL/pgSQL kept from the first transaction are the ones looked at too.
        const statements = [lockStatement(twoKeys).replace(`${BEGIN_SQL}; `, ''), applyStatement(everyKind, 'probe').replace('; COMMIT', '')];
        const plans = [...(await nestedPlans(client, statements)), ...(await nestedPlans(client, statements))];
        const kinds = ['LockRows', 'Update on documents', 'Insert on documents', 'Delete on documents'];
        for (const kind of kinds) expect(plans.filter((plan) => plan.includes(kind)), kind).toHaveLength(2);
        for (const plan of plans) {
          // An insert looks nothing up; the others find each row by the primary key.
          if (!plan.includes('Insert on documents')) expect(plan).toContain('documents_pkey');
          expect(plan).not.toMatch(/Seq Scan|Hash Join|Merge Join/);
        }
      }
    } finally {
      await client.end();
    }
  });

  it('quotes a plan holding what looks like the end of its literal as data', async () => {
    const [store] = await stores.replicas(1);
    const tricky = ['$chartd$', '$chartd', 'x$chartd1$); DROP TABLE chartd.documents; --', '$$', '\\u0000 and \0 too'];
    for (const [at, text] of tricky.entries()) await store!.commit([{ collection: 'q', key: text.replace(/\0/g, ''), value: { text, at } }]);
    for (const [at, text] of tricky.entries()) expect((await store!.get('q', text.replace(/\0/g, '')))?.value).toEqual({ text, at });
  });
});
