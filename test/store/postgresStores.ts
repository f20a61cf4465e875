// Shared by the PostgreSQL store tests: a fresh database per test, stores opened on it (as replicas), closed after.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgresStore.js';
import { readPostgresUrl } from '../../src/store/postgres/settings.js';
import { WriteConflict, type Store, type Stored } from '../../src/store/port.js';
import { createDatabase, databaseUrl, startPostgres, type PostgresServer } from '../support/postgres.js';

/** A throwaway PostgreSQL for the whole test file, and the stores each test opened closed after it. */
export function postgresForFile(): { readonly stores: PostgresStores; server(): PostgresServer } {
  let server: PostgresServer | undefined;
  const stores = new PostgresStores(() => server!);
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterEach(() => stores.closeAll());
  afterAll(async () => {
    await server?.stop();
  });
  return { stores, server: () => server! };
}

export class PostgresStores {
  private readonly opened: PostgresStore[] = [];
  private databases = 0;

  constructor(private readonly server: () => PostgresServer) {}

  /** A new empty database's name. */
  async freshDatabase(): Promise<string> {
    const name = `store_${process.pid}_${(this.databases += 1)}`;
    await createDatabase(this.server(), name);
    return name;
  }

  /** A store on `database`; `query` is appended to its URL (e.g. application_name=replica-a); `port` for a proxy's. */
  async open(database: string, query = '', options: PostgresStoreOptions = {}, port?: number): Promise<PostgresStore> {
    const url = databaseUrl(this.server(), database, port) + (query ? `?${query}` : '');
    const store = await PostgresStore.open(readPostgresUrl(url), options);
    this.opened.push(store);
    return store;
  }

  /** `count` stores on one fresh database, opened at once as replicas starting together would. */
  async replicas(count: number): Promise<PostgresStore[]> {
    const database = await this.freshDatabase();
    return Promise.all(Array.from({ length: count }, (_, at) => this.open(database, `application_name=replica-${at}`)));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((store) => store.close()));
  }
}

/** Reads, changes and commits `key` expecting the revision read, again after each conflict: a compare-and-set loop. */
export async function update<T>(store: Store, collection: string, key: string, change: (value: T | undefined) => T): Promise<Stored<T> | undefined> {
  for (;;) {
    const current = await store.get<T>(collection, key);
    try {
      await store.commit([{ collection, key, value: change(current?.value), expect: current?.revision ?? 0 }]);
      return current;
    } catch (error) {
      if (!(error instanceof WriteConflict)) throw error;
    }
  }
}

/** What a promise came to, without throwing. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
