// Where `chartd store` reads or writes: a data directory, or a PostgreSQL database named by a postgres:// URL.

import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fillThroughCommits, type Filling } from '../store/copy/filling.js';
import type { StoreLog } from '../store/lock.js';
import { openLowdbStore } from '../store/lowdbStore.js';
import type { Store } from '../store/port.js';
import { PostgresStore } from '../store/postgres/postgresStore.js';
import { readPostgresUrl, StoreUrlInvalid, type PostgresSettings } from '../store/postgres/settings.js';
import { StoreError } from '../store/store.js';
import { UsageError } from './usage.js';

export type StoreLocation =
  | { readonly kind: 'directory'; readonly dir: string; readonly shown: string }
  | { readonly kind: 'postgres'; readonly settings: PostgresSettings; readonly shown: string };

/** An opened store, and how a copy writes into it. */
export interface OpenedStore {
  readonly store: Store;
  readonly shown: string;
  fill(force: boolean): Promise<Filling>;
}

/** A reader of `flag`'s value: a postgres:// URL (its password never repeated), else a data directory. */
export function storeLocation(flag: string): (text: string) => StoreLocation {
  return (text) => {
    if (/^postgres(ql)?:/i.test(text)) {
      try {
        const settings = readPostgresUrl(text, flag);
        return { kind: 'postgres', settings, shown: `PostgreSQL at ${settings.shown}` };
      } catch (error) {
        if (error instanceof StoreUrlInvalid) throw new UsageError(error.message);
        throw error;
      }
    }
    // Another scheme's URL may hold a password too: only the scheme is named.
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1];
    if (scheme !== undefined) throw new UsageError(`${flag} is a ${scheme.slice(0, 20)}:// URL; give a data directory or postgres://USER@HOST:PORT/DATABASE`);
    return { kind: 'directory', dir: resolve(text), shown: `data directory ${text}` };
  };
}

/** Whether two locations name the same store (one directory, or one database on one server). */
export function sameStore(first: StoreLocation, second: StoreLocation): boolean {
  if (first.kind === 'directory' && second.kind === 'directory') return first.dir === second.dir;
  if (first.kind === 'postgres' && second.kind === 'postgres') {
    const { host, port, database } = first.settings;
    return host === second.settings.host && port === second.settings.port && database === second.settings.database;
  }
  return false;
}

/**
 * Opens the store at `location`: a data directory under its lock (refused while a server holds it). A directory
 * to read from must hold a store already; one to write into must hold a store or nothing at all.
 */
export async function openStore(location: StoreLocation, role: 'source' | 'target', log: StoreLog): Promise<OpenedStore> {
  if (location.kind === 'postgres') {
    const store = await PostgresStore.open(location.settings, { log, poolSize: 2 });
    return { store, shown: location.shown, fill: (force) => store.fill(force) };
  }
  const entries = await readdir(location.dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  if (!entries.includes('store.json')) {
    if (role === 'source') throw new StoreError(`${location.shown} holds no chartd store (no store.json); is it the --data directory of a server?`, join(location.dir, 'store.json'));
    if (entries.length) throw new StoreError(`${location.shown} holds files but no chartd store (no store.json); name an empty or new directory, or a server's --data directory`, location.dir);
  }
  const store = await openLowdbStore(location.dir, { log });
  return { store, shown: location.shown, fill: (force) => fillThroughCommits(store, location.shown, force) };
}
