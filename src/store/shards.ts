// The checkpointed state: documents hashed into K lowdb shard files, so a checkpoint rewrites only dirty shards.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { crc32 } from './crc.js';
import { DurableFile, readIfExists, syncDirectory, writeFileDurably } from './durableFile.js';
import { StoreCorrupt } from './store.js';

export const STORE_FORMAT = 1;
export const SHARD_FORMAT = 1;

/** At 100,000 documents of ~600 bytes a shard holds ~400 of them (~250 KB). */
export const DEFAULT_SHARD_COUNT = 256;

/**
 * A shard file as lowdb reads and writes it; `seq` is the last journal record it reflects. `revs` holds each
 * document's revision other than 1, so files written before revisions existed read as revision 1 throughout.
 */
export interface ShardFile {
  format: number;
  seq: number;
  docs: Record<string, Record<string, unknown>>;
  revs?: Record<string, Record<string, number>>;
}

const NAME = /^([0-9a-f]{4})\.json$/;
const READ_CONCURRENCY = 4;
const WRITE_CONCURRENCY = 4;

/** Keys are hashed, never used as paths. */
export function shardOf(collection: string, key: string, count: number): number {
  return crc32(`${collection}\u0000${key}`) % count;
}

export function shardPath(dir: string, index: number): string {
  return join(dir, `${index.toString(16).padStart(4, '0')}.json`);
}

/** A document's revision as memory holds it now. */
export type RevisionOf = (collection: string, key: string) => number;

export class Shards {
  /** Each shard's documents as lowdb holds them: the very objects parsed from its file, changed in place. */
  private readonly docs: ShardFile['docs'][];
  /** Journal sequence each shard file reflects; replay skips records at or below it. */
  private readonly seqs: number[];
  private dirty = new Set<number>();

  /** `revisionOf` answers for the documents a checkpoint writes: revisions are kept in memory once, not per shard. */
  constructor(
    readonly dir: string,
    readonly count: number,
    private readonly revisionOf: RevisionOf,
  ) {
    this.docs = Array.from({ length: count }, () => ({}));
    this.seqs = new Array<number>(count).fill(0);
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  seqOf(index: number): number {
    return this.seqs[index]!;
  }

  /** Loads every shard file, handing each document to `onDoc`; returns the highest sequence stamped on one. */
  async load(onDoc: (collection: string, key: string, value: unknown, revision: number) => void): Promise<number> {
    const files: { index: number; file: string }[] = [];
    for (const name of await readdir(this.dir)) {
      const match = NAME.exec(name);
      if (!match) continue;
      const index = parseInt(match[1]!, 16);
      const file = join(this.dir, name);
      if (index >= this.count) throw corrupt(file, `is numbered beyond the ${this.count} shards store.json declares`);
      files.push({ index, file });
    }
    let maxSeq = 0;
    // A few reads in flight, so the disk works while the previous shard is parsed.
    await eachConcurrently(files, READ_CONCURRENCY, async ({ index, file }) => {
      const data = await readShard(file);
      const revs = data.revs ?? {};
      for (const collection of Object.keys(data.docs)) {
        const record = data.docs[collection]!;
        const revisions = Object.hasOwn(revs, collection) ? revs[collection]! : {};
        for (const key of Object.keys(record)) {
          if (shardOf(collection, key, this.count) !== index) {
            const home = shardPath(this.dir, shardOf(collection, key, this.count));
            throw corrupt(file, `holds ${collection}/${key}, which belongs in ${home}; was a file renamed or copied in?`);
          }
          onDoc(collection, key, record[key], Object.hasOwn(revisions, key) ? revisions[key]! : 1);
        }
      }
      this.docs[index] = data.docs;
      this.seqs[index] = data.seq;
      maxSeq = Math.max(maxSeq, data.seq);
    });
    return maxSeq;
  }

  /** Sets (or with `undefined` deletes) a document in memory and marks its shard for the next checkpoint. */
  set(index: number, collection: string, key: string, value: unknown): void {
    const docs = this.docs[index]!;
    let record = Object.hasOwn(docs, collection) ? docs[collection] : undefined;
    if (value === undefined) {
      if (record) delete record[key];
    } else {
      if (!record) defineOwn(docs, collection, (record = {}));
      defineOwn(record, key, value);
    }
    this.dirty.add(index);
  }

  /**
   * Writes every dirty shard durably and syncs the directory once. Each file is stamped with `currentSeq()`
   * read at the moment it is serialized, so commits landing meanwhile are never claimed without being included.
   * On failure the shards stay dirty and the error is thrown; the journals still hold everything.
   */
  async writeDirty(currentSeq: () => number): Promise<number> {
    const picked = [...this.dirty];
    this.dirty = new Set();
    try {
      await eachConcurrently(picked, WRITE_CONCURRENCY, (index) => this.writeShard(index, currentSeq()));
      if (picked.length) await syncDirectory(this.dir);
    } catch (error) {
      for (const index of picked) this.dirty.add(index);
      throw error;
    }
    return picked.length;
  }

  private async writeShard(index: number, seq: number): Promise<void> {
    const docs = this.docs[index]!;
    const db = new Low<ShardFile>(new DurableFile(shardPath(this.dir, index), { syncDir: false }), { format: SHARD_FORMAT, seq, docs, revs: this.revisionsOf(docs) });
    // An emptied shard is still written: its stamp stops an old journal from bringing deleted documents back.
    await db.write();
    this.seqs[index] = seq;
  }

  /** The revisions other than 1 of a shard's documents, as they are at the moment its file is serialized. */
  private revisionsOf(docs: ShardFile['docs']): NonNullable<ShardFile['revs']> {
    const revs: NonNullable<ShardFile['revs']> = {};
    for (const collection of Object.keys(docs)) {
      let revisions: Record<string, number> | undefined;
      for (const key of Object.keys(docs[collection]!)) {
        const revision = this.revisionOf(collection, key);
        if (revision === 1) continue;
        if (!revisions) defineOwn(revs, collection, (revisions = {}));
        defineOwn(revisions, key, revision);
      }
    }
    return revs;
  }
}

async function readShard(file: string): Promise<ShardFile> {
  const db = new Low<ShardFile | null>(new DurableFile<ShardFile | null>(file), null);
  try {
    await db.read();
  } catch (error) {
    if (error instanceof SyntaxError) throw corrupt(file, `is not valid JSON (${error.message})`);
    throw error;
  }
  const data = db.data as Partial<ShardFile> | null;
  if (!isRecord(data)) throw corrupt(file, 'is not a JSON object');
  if (data.format !== SHARD_FORMAT) {
    throw new StoreCorrupt(
      `shard ${file} has format ${String(data.format)}, and this chartd reads format ${SHARD_FORMAT}; ` +
        'start the chartd version that wrote it (nothing was changed)',
      file,
    );
  }
  if (!Number.isSafeInteger(data.seq) || (data.seq as number) < 0) throw corrupt(file, 'has no valid "seq"');
  if (!isRecord(data.docs) || !Object.values(data.docs).every(isRecord)) {
    throw corrupt(file, 'has no valid "docs" (an object of collections, each an object of documents)');
  }
  if (data.revs !== undefined && !(isRecord(data.revs) && Object.values(data.revs).every((revisions) => isRecord(revisions) && Object.values(revisions).every(isRevision)))) {
    throw corrupt(file, 'has no valid "revs" (an object of collections, each an object of revisions, whole numbers from 2 up)');
  }
  return data as ShardFile;
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function eachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    try {
      while (next < items.length) await task(items[next++]!);
    } catch (error) {
      next = items.length; // the other workers stop taking items
      throw error;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// Plain assignment of "__proto__" would set the prototype instead of storing a document under that key.
function defineOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}

function isRevision(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function corrupt(file: string, problem: string): StoreCorrupt {
  return new StoreCorrupt(
    `shard ${file} ${problem}. Nothing was changed and chartd will not start on it. ` +
      'Restore the data directory from a backup (a shard holds the checkpointed documents of many instances; ' +
      'deleting it would lose them).',
    file,
  );
}

/** store.json fixes the format and the shard count; a directory with data but without it is refused. */
export async function readManifest(dir: string, shardDir: string, journalDir: string): Promise<number> {
  const file = join(dir, 'store.json');
  const bytes = await readIfExists(file);
  if (bytes === null) {
    if ((await holdsFiles(shardDir)) || (await holdsFiles(journalDir))) {
      throw new StoreCorrupt(`${file} is missing, but ${dir} holds shards or journals; restore it from a backup (nothing was changed)`, file);
    }
    await mkdir(shardDir, { recursive: true });
    await mkdir(journalDir, { recursive: true });
    await syncDirectory(dir);
    await writeFileDurably(file, `${JSON.stringify({ chartd: 'store', format: STORE_FORMAT, shards: DEFAULT_SHARD_COUNT })}\n`);
    return DEFAULT_SHARD_COUNT;
  }
  let manifest: { chartd?: unknown; format?: unknown; shards?: unknown } | null;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as typeof manifest;
  } catch (error) {
    throw new StoreCorrupt(`${file} is not valid JSON (${(error as Error).message}); restore it from a backup (nothing was changed)`, file);
  }
  if (manifest?.chartd !== 'store') throw new StoreCorrupt(`${file} is not a chartd store manifest; restore it from a backup`, file);
  if (manifest.format !== STORE_FORMAT) {
    throw new StoreCorrupt(
      `${file} declares store format ${String(manifest.format)}, and this chartd reads format ${STORE_FORMAT}; ` +
        'start the chartd version that wrote it (nothing was changed)',
      file,
    );
  }
  const count = manifest.shards;
  if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > 65536) {
    throw new StoreCorrupt(`${file} declares an invalid shard count ${String(count)}; restore it from a backup`, file);
  }
  await mkdir(shardDir, { recursive: true });
  await mkdir(journalDir, { recursive: true });
  return count as number;
}

async function holdsFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
