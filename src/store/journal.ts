// The append-only journal: one CRC-checked JSON line per commit() call, synced once per group of calls.
import { constants } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCrc } from './crc.js';
import { readIfExists, writeFileDurably } from './durableFile.js';
import type { StoreLog } from './lock.js';
import { StoreCorrupt, type Write } from './store.js';

export const JOURNAL_FORMAT = 1;

/** One write as journaled: `value: null` deletes. */
export type Entry = readonly [collection: string, key: string, value: unknown];

export interface JournalFile {
  readonly gen: number;
  readonly file: string;
}

const NAME = /^(\d{12})\.log$/;
const NEWLINE = 0x0a;

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

export function formatRecord(seq: number, body: string): string {
  const json = `{"seq":${seq},"writes":${body}}`;
  return `${formatCrc(json)} ${json}\n`;
}

function formatHeader(): string {
  const json = JSON.stringify({ chartd: 'journal', format: JOURNAL_FORMAT });
  return `${formatCrc(json)} ${json}\n`;
}

const HEADER = formatHeader();

/**
 * Where the platform has it, the journal is opened with O_DSYNC: each write returns once its bytes are on
 * disk, as write + fdatasync would, but in one trip through Node's thread pool instead of two.
 */
const SYNC_ON_WRITE = constants.O_DSYNC;
const OPEN_FLAGS = SYNC_ON_WRITE === undefined ? 'r+' : constants.O_RDWR | SYNC_ON_WRITE;

/**
 * Journals grow by zero-filled extents written ahead of the appends, doubling from 64 KiB to 4 MiB. An append
 * into space that is already allocated and sized needs one device write to be durable; an append that grows
 * the file also has to write the inode (size, block map), which roughly doubles the cost of every sync.
 * Records never contain a NUL byte (JSON escapes it), so trailing zeros always read as unused space.
 */
const FIRST_EXTENT = 64 * 1024;
const MAX_EXTENT = 4 * 1024 * 1024;

/** Appends groups of records to the newest journal; after a failed sync the file is cut back to its last good end. */
export class JournalWriter {
  /** Set when a failed append could not be undone: the journal may hold lines nobody was told about. */
  broken: Error | undefined;

  private constructor(
    readonly file: string,
    readonly gen: number,
    private readonly handle: FileHandle,
    private end: number,
    /** The file's size: bytes from `end` up to here are preallocated zeros. */
    private allocated: number,
  ) {}

  /** The header goes in through a temp file, so a journal on disk is never empty or headless. */
  static async create(dir: string, gen: number): Promise<JournalWriter> {
    const file = journalPath(dir, gen);
    await writeFileDurably(file, HEADER);
    const size = Buffer.byteLength(HEADER);
    return new JournalWriter(file, gen, await open(file, OPEN_FLAGS), size, size);
  }

  /** Continues after the last record (`size`, as replay found it), in whatever space is already preallocated. */
  static async reopen(file: JournalFile, size: number): Promise<JournalWriter> {
    const handle = await open(file.file, OPEN_FLAGS);
    try {
      return new JournalWriter(file.file, file.gen, handle, size, Math.max(size, (await handle.stat()).size));
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get size(): number {
    return this.end;
  }

  get hasRecords(): boolean {
    return this.end > Buffer.byteLength(HEADER);
  }

  /** Resolves once `text` is on disk (O_DSYNC or fdatasync); a failure leaves the file as it was before the call. */
  async append(text: string): Promise<number> {
    if (this.broken) throw this.broken;
    const bytes = Buffer.from(text, 'utf8');
    if (this.end + bytes.length > this.allocated) await this.preallocate(this.end + bytes.length);
    try {
      await this.writeDurably(bytes, this.end);
    } catch (error) {
      await this.cutBack();
      throw error;
    }
    this.end += bytes.length;
    return bytes.length;
  }

  private async writeDurably(bytes: Buffer, at: number): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written, at + written);
      written += bytesWritten;
    }
    if (SYNC_ON_WRITE === undefined) await this.handle.datasync();
  }

  private async preallocate(needed: number): Promise<void> {
    const extent = Math.min(MAX_EXTENT, Math.max(FIRST_EXTENT, this.allocated));
    const target = Math.max(needed, this.allocated + extent);
    try {
      await this.writeDurably(Buffer.alloc(target - this.allocated), this.allocated);
      this.allocated = target;
    } catch {
      // Only a speed-up: on a full disk or under a file-size limit the appends go on without it, and fail on
      // their own if they must. Zeros it left behind read as unused space.
      this.allocated = Number.POSITIVE_INFINITY;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  // Failed lines must never replay after a restart: their callers were told the commit failed.
  private async cutBack(): Promise<void> {
    try {
      await this.handle.truncate(this.end);
      await this.handle.datasync();
      this.allocated = Math.min(this.allocated, this.end);
    } catch (error) {
      this.broken = new Error(`journal ${this.file} could not be cut back after a failed write (${String(error)}); restart chartd once the disk is healthy`);
    }
  }
}

export interface ReplayResult {
  /** Highest sequence number seen, or `afterSeq` when the journal holds no records. */
  readonly lastSeq: number;
  readonly records: number;
  /** Where the records end, after any torn tail was cut off (preallocated zeros follow): where appends continue. */
  readonly size: number;
}

/**
 * Feeds every record of one journal to `onRecord`, checking CRC, JSON, shape and order.
 * Only the newest journal may end in a torn tail (bytes after its last newline: a write never acknowledged);
 * that tail is cut off with a warning. Anything else wrong throws StoreCorrupt naming file and line.
 */
export async function replayJournal(
  file: string,
  options: { newest: boolean; afterSeq: number; log: StoreLog; onRecord: (seq: number, entries: readonly Entry[]) => void },
): Promise<ReplayResult> {
  const bytes = (await readIfExists(file)) ?? Buffer.alloc(0);
  const used = usedLength(bytes);
  let end = used > 0 ? bytes.lastIndexOf(NEWLINE, used - 1) + 1 : 0;
  if (end < used) {
    if (!options.newest || end === 0) {
      throw corrupt(file, lineCount(bytes, end) + 1, end, 'ends in an incomplete line, and it is not the newest journal');
    }
    options.log('warn', `journal ${file}: dropped ${used - end} bytes of an incomplete last write (never acknowledged)`);
    await cutFile(file, end);
  }
  let seq = options.afterSeq;
  let records = 0;
  let line = 0;
  for (let start = 0; start < end; ) {
    const stop = bytes.indexOf(NEWLINE, start);
    line++;
    const value = parseLine(file, line, start, bytes.toString('utf8', start, stop));
    if (line === 1) {
      checkHeader(file, value);
    } else {
      const record = value as { seq?: unknown; writes?: unknown };
      if (!Number.isSafeInteger(record.seq) || (record.seq as number) <= seq) {
        throw corrupt(file, line, start, `has sequence number ${String(record.seq)} after ${seq}; records must only go up`);
      }
      if (!Array.isArray(record.writes) || !record.writes.every(isEntry)) {
        throw corrupt(file, line, start, 'is not a list of [collection, key, value] writes');
      }
      seq = record.seq as number;
      records++;
      options.onRecord(seq, record.writes as Entry[]);
    }
    start = stop + 1;
  }
  if (line === 0) throw corrupt(file, 1, 0, 'is empty; chartd writes a header line before anything else');
  return { lastSeq: seq, records, size: end };
}

function parseLine(file: string, line: number, offset: number, text: string): unknown {
  const space = text.indexOf(' ');
  const json = text.slice(space + 1);
  if (space !== 8 || formatCrc(json) !== text.slice(0, 8)) throw corrupt(file, line, offset, 'fails its CRC check (the bytes are damaged)');
  try {
    return JSON.parse(json);
  } catch (error) {
    throw corrupt(file, line, offset, `is not valid JSON (${(error as Error).message})`);
  }
}

function checkHeader(file: string, value: unknown): void {
  const header = value as { chartd?: unknown; format?: unknown } | null;
  if (header?.chartd !== 'journal') throw corrupt(file, 1, 0, 'is not a chartd journal header');
  if (header.format !== JOURNAL_FORMAT) {
    throw new StoreCorrupt(
      `journal ${file} has format ${String(header.format)}, and this chartd reads format ${JOURNAL_FORMAT}; ` +
        'start the chartd version that wrote it (nothing was changed)',
      file,
    );
  }
}

function isEntry(value: unknown): boolean {
  return Array.isArray(value) && value.length === 3 && typeof value[0] === 'string' && typeof value[1] === 'string';
}

/** Where the trailing run of zero bytes (preallocated, never written) begins. */
function usedLength(bytes: Buffer): number {
  let used = bytes.length;
  while (used > 0 && bytes[used - 1] === 0) used--;
  return used;
}

function lineCount(bytes: Buffer, end: number): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1 && at < end; at = bytes.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

function corrupt(file: string, line: number, offset: number, problem: string): StoreCorrupt {
  return new StoreCorrupt(
    `journal ${file} line ${line} (byte ${offset}) ${problem}. Nothing was changed and chartd will not start on it. ` +
      `Restore the data directory from a backup; or, to keep only the records before this line, ` +
      `run \`truncate -s ${offset} ${file}\` and move any newer journal files aside, then start again.`,
    file,
  );
}

async function cutFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.truncate(size);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
