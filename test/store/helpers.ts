// Shared by the store tests: temp data directories, crash copies, captured logs, a compiled store for child processes.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openLowdbStore, type LowdbStore, type LowdbStoreOptions } from '../../src/store/lowdbStore.js';
import type { Store } from '../../src/store/port.js';

const run = promisify(execFile);
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const created: string[] = [];

export interface LogLine {
  readonly level: 'info' | 'warn';
  readonly msg: string;
}

export async function makeTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chartd-store-'));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Opens a store whose log lines land in the returned array. */
export async function openLogged(dir: string, options: LowdbStoreOptions = {}): Promise<{ store: LowdbStore; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const store = await openLowdbStore(dir, { ...options, log: (level, msg) => logs.push({ level, msg }) });
  return { store, logs };
}

/** The data directory as a kill -9 would leave it right now (the LOCK of this live process removed). */
export async function copyAsCrashed(dir: string): Promise<string> {
  const copy = await makeTempDir();
  await cp(dir, copy, { recursive: true });
  await rm(join(copy, 'LOCK'), { force: true });
  return copy;
}

export async function journalFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'journal'))).filter((name) => name.endsWith('.log')).map((name) => join(dir, 'journal', name));
}

/** A journal's records as text, without the zero-filled space preallocated after them. */
export async function journalText(file: string): Promise<string> {
  return (await readFile(file, 'utf8')).replace(/\0+$/, '');
}

export async function shardFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'shards'))).filter((name) => name.endsWith('.json')).map((name) => join(dir, 'shards', name));
}

/** Compiles src/store to plain JS under node_modules/.cache (so lowdb resolves) for child processes; returns lowdbStore.js. */
export async function compileStoreForChildren(): Promise<{ module: string; cleanup: () => Promise<void> }> {
  const outDir = join(repo, 'node_modules', '.cache', `chartd-store-test-${process.pid}`);
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--outDir', outDir, '--rootDir', join(repo, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext'];
  await run(process.execPath, [tsc, ...flags, '--target', 'ES2022', '--types', 'node', '--skipLibCheck', '--strict', join(repo, 'src', 'store', 'lowdbStore.ts')]);
  return { module: join(outDir, 'store', 'lowdbStore.js'), cleanup: () => rm(outDir, { recursive: true, force: true }) };
}

/** A document's value as the port reads it, or undefined. */
export async function valueOf<T = unknown>(store: Store, collection: string, key: string): Promise<T | undefined> {
  return (await store.get<T>(collection, key))?.value;
}

/** Every value of a collection (whose key starts with `prefix`), in key order. */
export async function valuesOf<T = unknown>(store: Store, collection: string, prefix?: string): Promise<T[]> {
  const page = await store.page<T>(collection, { limit: Number.MAX_SAFE_INTEGER, ...(prefix ? { prefix } : {}) });
  return page.documents.map(({ value }) => value);
}
