// The journal's records: one CRC-checked JSON line per commit() call, in files named by their generation.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCrc } from './crc.js';
import type { Write } from './port.js';

export const JOURNAL_FORMAT = 1;

/** One write as journaled: `value: null` deletes. */
export type Entry = readonly [collection: string, key: string, value: unknown];

export interface JournalFile {
  readonly gen: number;
  readonly file: string;
}

const NAME = /^(\d{12})\.log$/;

export function journalPath(dir: string, gen: number): string {
  return join(dir, `${String(gen).padStart(12, '0')}.log`);
}

/** Journal files in the order they were written (their generation). */
export async function listJournals(dir: string): Promise<JournalFile[]> {
  const found: JournalFile[] = [];
  for (const name of await readdir(dir)) {
    const match = NAME.exec(name);
    if (match) found.push({ gen: Number(match[1]), file: join(dir, name) });
  }
  return found.sort((a, b) => a.gen - b.gen);
}

/** Serializes one commit's writes when commit() is called, so a value JSON cannot hold fails only its own caller. */
export function encodeWrites(writes: readonly Write[]): string {
  const parts: string[] = [];
  for (const { collection, key, value } of writes) {
    if (typeof collection !== 'string' || collection === '' || typeof key !== 'string' || key === '') {
      throw new TypeError('a store write needs a non-empty collection and key');
    }
    const json = JSON.stringify(value);
    // undefined or a function would turn into null, which means delete: refuse instead.
    if (json === undefined) throw new TypeError(`the value for ${collection}/${key} is not JSON (use null to delete)`);
    parts.push(`[${JSON.stringify(collection)},${JSON.stringify(key)},${json}]`);
  }
  return `[${parts.join(',')}]`;
}

/**
 * `pending` is the lowest sequence number that was not yet on disk when this record's write was issued (its
 * own group's first, when nothing else was in flight). Replay uses it to tell a write cut short by a crash,
 * whose later neighbours were never acknowledged either, from damage to records that were.
 */
export function formatRecord(seq: number, pending: number, body: string): string {
  const json = `{"seq":${seq},"pending":${pending},"writes":${body}}`;
  return `${formatCrc(json)} ${json}\n`;
}

function formatHeader(): string {
  const json = JSON.stringify({ chartd: 'journal', format: JOURNAL_FORMAT });
  return `${formatCrc(json)} ${json}\n`;
}

export const HEADER = formatHeader();
