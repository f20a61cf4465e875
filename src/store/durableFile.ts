// Durable file writes (temp file, fsync, rename, fsync of the directory) and a lowdb Adapter built on them.
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Adapter } from 'lowdb';

/** Where a file's next version is written before it is renamed over the file; `.…tmp` is never a live name. */
export function tempPathOf(file: string): string {
  return join(dirname(file), `.${basename(file)}.tmp`);
}

/** Makes renames and unlinks inside `dir` survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for syncing; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and any missing parents so that their names, too, survive a power cut. */
export async function makeDirectoryDurably(dir: string): Promise<void> {
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true });
  if (first === undefined) return;
  // Each new directory's name lives in its parent: sync the parent of every directory created.
  for (let created = target; ; created = dirname(created)) {
    await syncDirectory(dirname(created));
    if (created === first) return;
  }
}

/**
 * Replaces `file` with `text` so a crash leaves either the old or the new version whole.
 * With `syncDir: false` the caller syncs the directory itself, once for many files.
 */
export async function writeFileDurably(file: string, text: string | Uint8Array, options: { syncDir?: boolean } = {}): Promise<void> {
  const temp = tempPathOf(file);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // A full disk must not keep the half-written temp file: it holds space and nothing committed.
    await rm(temp, { force: true }).catch(() => undefined);
    throw inFile(error, file);
  }
  if (options.syncDir ?? true) await syncDirectory(dirname(file));
}

/**
 * The error of a write to `file`, saying which file: Node's own message for a full disk is just "ENOSPC: no space
 * left on device, write". The code stays, so callers still tell a full disk from other faults.
 */
export function inFile(error: unknown, file: string): Error {
  const cause = error as NodeJS.ErrnoException;
  if (typeof cause?.message === 'string' && cause.message.includes(file)) return cause;
  const named = new Error(`cannot write ${file}: ${cause?.message ?? String(error)}`, { cause: error });
  return Object.assign(named, cause?.code ? { code: cause.code } : {});
}

/** Deletes temp files a crash left behind; their rename never happened, so they hold nothing committed. */
export async function removeTempFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('.') && name.endsWith('.tmp')) {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Reads a file, or null when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** A lowdb Adapter whose write() resolves only once the new version is on disk. */
export class DurableFile<T> implements Adapter<T> {
  constructor(
    readonly file: string,
    private readonly options: { syncDir?: boolean; stringify?: (data: T) => string } = {},
  ) {}

  /** Throws SyntaxError on bad JSON; the caller knows what the file should hold and names it. */
  async read(): Promise<T | null> {
    const bytes = await readIfExists(this.file);
    return bytes === null ? null : (JSON.parse(bytes.toString('utf8')) as T);
  }

  /** Serializes before its first await, so `data` is captured as it is at the call. */
  async write(data: T): Promise<void> {
    const text = (this.options.stringify ?? JSON.stringify)(data);
    await writeFileDurably(this.file, text, { syncDir: this.options.syncDir ?? true });
  }
}
