// Reads documents from a data directory without its lock and without writing, so a server may be running on it meanwhile.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listJournals, type JournalFile } from './journal.js';
import { readLiveJournal } from './replay.js';
import { shardOf, Shards } from './shards.js';
import { StoreCorrupt, StoreError } from './store.js';

/** A checkpoint moving journals under the reader makes it start over; more than a few in a row means heavy load. */
const READ_ROUNDS = 5;

/**
 * The documents of `collection` whose keys start with `prefix`, in key order, as a server starting on `dir` would
 * see them, but read only: shards, then every journal record after them. Nothing in `dir` is created, cut or
 * locked, so a running server goes on unharmed; what it has not yet acknowledged (a write in flight) is left out.
 */
export async function readDocuments<T>(dir: string, collection: string, prefix: string): Promise<T[]> {
  const count = await shardCount(dir);
  for (let round = 0; round < READ_ROUNDS; round++) {
    const documents = await readOnce(dir, count, collection, prefix);
    if (documents) return [...documents.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, value]) => value as T);
  }
  throw new StoreError(`the data directory ${dir} kept changing while it was read (its server checkpointed ${READ_ROUNDS} times); try again, or ask the server (--server URL)`);
}

/** One pass; undefined when a checkpoint deleted a journal the pass needed (its shards may predate that checkpoint). */
async function readOnce(dir: string, count: number, collection: string, prefix: string): Promise<Map<string, unknown> | undefined> {
  const journalDir = join(dir, 'journal');
  const listedFirst = await journalsIn(journalDir);
  const documents = new Map<string, unknown>();
  // Read only: it never checkpoints, so no revision is ever asked for.
  const shards = new Shards(join(dir, 'shards'), count, () => 1);
  const wanted = (owner: string, key: string): boolean => owner === collection && key.startsWith(prefix);
  await shards.load((owner, key, value) => {
    if (wanted(owner, key)) documents.set(key, value);
  }).catch(missingIsEmpty(0));
  const journals = await journalsIn(journalDir);
  if (listedFirst.some((first) => !journals.some((journal) => journal.gen === first.gen))) return undefined;
  let seq = 0;
  for (const [position, journal] of journals.entries()) {
    const present = await readLiveJournal(journal.file, {
      newest: position === journals.length - 1,
      afterSeq: seq,
      onRecord: (recordSeq, entries) => {
        seq = recordSeq;
        for (const [owner, key, value] of entries) {
          // A shard already holds every record up to its own sequence number.
          if (!wanted(owner, key) || recordSeq <= shards.seqOf(shardOf(owner, key, count))) continue;
          if (value === null) documents.delete(key);
          else documents.set(key, value);
        }
      },
    });
    if (!present) return undefined;
  }
  return documents;
}

async function shardCount(dir: string): Promise<number> {
  const file = join(dir, 'store.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`${dir} holds no chartd store (no store.json); is it the --data directory of a server?`, file);
    throw error;
  }
  const manifest = JSON.parse(text) as { chartd?: unknown; shards?: unknown };
  if (manifest.chartd !== 'store' || !Number.isSafeInteger(manifest.shards)) throw new StoreCorrupt(`${file} is not a chartd store manifest`, file);
  return manifest.shards as number;
}

async function journalsIn(dir: string): Promise<JournalFile[]> {
  return listJournals(dir).catch(missingIsEmpty([]));
}

/** A store that has never checkpointed (or journaled) lacks the folder: nothing to read there. */
function missingIsEmpty<T>(empty: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code === 'ENOENT') return empty;
    throw error;
  };
}
