// The append-only journal: one CRC-checked JSON line per commit() call, synced once per group of calls.
import { constants } from 'node:fs';
import { open, readdir, statfs, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { formatCrc } from './crc.js';
import { readIfExists, writeFileDurably } from './durableFile.js';
import type { StoreLog } from './lock.js';
import type { Write } from './port.js';
import { StoreCorrupt } from './store.js';

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
/** Preallocation takes at most this fraction (1/n) of the free space. */
const SPARE_SHARE = 16;

/**
 * Writes groups of records to the newest journal. Space is reserved in order, one group after another, but
 * several groups may be on their way to disk at once; after a failed write the file is cut back to where that
 * group began.
 */
export class JournalWriter {
  /** Set when a failed write could not be undone: the journal may hold lines nobody was told about. */
  broken: Error | undefined;

  private constructor(
    readonly file: string,
    readonly gen: number,
    private readonly handle: FileHandle,
    /** Where the next group goes: the end of everything reserved so far. */
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

  /** Preallocates, if needed, so that about `length` more bytes fit in space already on disk. */
  async makeRoom(length: number): Promise<void> {
    if (this.end + length > this.allocated) await this.preallocate(this.end + length);
  }

  /**
   * Claims the next `length` bytes and returns where they start: the order of reservations is the order of
   * the records in the file. Past the preallocated space the file simply grows.
   */
  reserve(length: number): number {
    if (this.broken) throw this.broken;
    const offset = this.end;
    this.end += length;
    // Written past the zeros, the file grows with the record; later extents start after it.
    this.allocated = Math.max(this.allocated, this.end);
    return offset;
  }

  /** Resolves once `bytes` are on disk at `offset` (O_DSYNC, or a write then fdatasync). */
  async write(bytes: Buffer, offset: number): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written, offset + written);
      written += bytesWritten;
    }
    if (SYNC_ON_WRITE === undefined) await this.handle.datasync();
  }

  /**
   * Only a speed-up, so it takes no more than a small share of the space left: after a full disk is cleared, the
   * space freed is the operator's, not the journal's to take in one go. Where the disk is nearly full, or the
   * write fails (a full disk, a file-size limit), the appends go on without it and the file grows with them; the
   * zeros of a failed attempt are cut off again, so they hold no space.
   */
  private async preallocate(needed: number): Promise<void> {
    const extent = Math.min(MAX_EXTENT, Math.max(FIRST_EXTENT, this.allocated), await this.spareSpace());
    if (extent < FIRST_EXTENT) return;
    const target = Math.max(needed, this.allocated + extent);
    const before = this.allocated;
    try {
      await this.write(Buffer.alloc(target - before), before);
      this.allocated = target;
    } catch {
      await this.handle.truncate(before).catch(() => undefined);
    }
  }

  /** A sixteenth of the space free to this process on the journal's file system (unlimited where it cannot tell). */
  private async spareSpace(): Promise<number> {
    try {
      const space = await statfs(dirname(this.file));
      return Math.floor((space.bavail * space.bsize) / SPARE_SHARE);
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Failed lines must never replay after a restart, since their callers are told the commit failed: cuts the
   * file back to `offset` (where the first failed group began) and syncs. Only once no write is in flight.
   */
  async cutBack(offset: number): Promise<void> {
    try {
      await this.handle.truncate(offset);
      await this.handle.datasync();
      this.end = offset;
      this.allocated = offset;
    } catch (error) {
      this.broken = new Error(`journal ${this.file} could not be cut back after a failed write (${String(error)}); restart chartd once the disk is healthy`);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export interface ReplayResult {
  /** Highest sequence number seen, or `afterSeq` when the journal holds no records. */
  readonly lastSeq: number;
  readonly records: number;
  /** Where the records end, after an interrupted write was cut off (preallocated zeros follow): where appends continue. */
  readonly size: number;
}

interface Line {
  readonly number: number;
  readonly start: number;
  /** Index of its newline, or where the used bytes end for a last line without one. */
  readonly stop: number;
  readonly complete: boolean;
}

/**
 * Feeds every record of one journal to `onRecord`, checking CRC, JSON, shape and order. Anything wrong throws
 * StoreCorrupt naming file and line, with one exception: the end of the newest journal may hold a write that a
 * crash interrupted (see cutInterruptedTail); that part is cut off with a warning, and nothing in it was ever
 * acknowledged.
 */
export async function replayJournal(file: string, options: ReplayOptions): Promise<ReplayResult> {
  return replayBytes(file, (await readIfExists(file)) ?? Buffer.alloc(0), options);
}

interface ReplayOptions {
  readonly newest: boolean;
  readonly afterSeq: number;
  readonly log: StoreLog;
  readonly onRecord: (seq: number, entries: readonly Entry[]) => void;
  /** A running server owns the journal: a damaged end is a write still in flight, read past and never cut. */
  readonly live?: boolean;
}

/**
 * replayJournal for a reader beside a running server, which changes nothing: the newest journal's records stop at
 * the first line not yet whole. False when the journal is gone (a checkpoint deleted it since it was listed).
 */
export async function readLiveJournal(file: string, options: Omit<ReplayOptions, 'live' | 'log'>): Promise<boolean> {
  const bytes = await readIfExists(file);
  if (bytes === null) return false;
  await replayBytes(file, bytes, { ...options, live: true, log: () => {} });
  return true;
}

async function replayBytes(file: string, bytes: Buffer, options: ReplayOptions): Promise<ReplayResult> {
  const lines = splitLines(bytes);
  if (lines.length === 0) throw corrupt(file, 1, 0, 'is empty; chartd writes a header line before anything else');
  const header = lines[0]!;
  if (!header.complete) throw corrupt(file, 1, 0, 'ends in an incomplete line before its header is whole');
  checkHeader(file, parseLine(file, header, checkedJson(bytes, header)));
  let seq = options.afterSeq;
  let records = 0;
  for (const [index, line] of lines.entries()) {
    if (index === 0) continue;
    const json = line.complete ? checkedJson(bytes, line) : undefined;
    if (json === undefined) {
      if (!options.newest) {
        throw corrupt(file, line.number, line.start, line.complete ? CRC_PROBLEM : 'ends in an incomplete line, and it is not the newest journal');
      }
      if (!options.live) await cutInterruptedTail(file, bytes, lines.slice(index), seq, options.log);
      return { lastSeq: seq, records, size: line.start };
    }
    const record = parseRecord(file, line, json, seq);
    seq = record.seq;
    records++;
    options.onRecord(seq, record.writes);
  }
  return { lastSeq: seq, records, size: lines.at(-1)!.stop + 1 };
}

const CRC_PROBLEM = 'fails its CRC check (the bytes are damaged)';

/**
 * A crash can interrupt journal writes that were in flight together. Each lands partly: whole sectors of it
 * or none, the rest still the zeros written ahead. The newest journal may then end in a stretch where damaged
 * lines (holding zeros, or a last line without its newline) and whole records of the later writes mix.
 * That stretch is a safe loss only if nothing in it was acknowledged, which holds when every whole record in
 * it was written while the first damaged line was still on its way to disk (`pending` ≤ that line's seq):
 * answers go out in sequence order, and that line's answer never went out. Anything else is damage to
 * acknowledged records, and refused.
 */
async function cutInterruptedTail(file: string, bytes: Buffer, tail: readonly Line[], lastSeq: number, log: StoreLog): Promise<void> {
  const first = tail[0]!;
  let written = 0;
  for (const line of tail) {
    const json = line.complete ? checkedJson(bytes, line) : undefined;
    if (json === undefined) {
      if (line.complete && !holdsZeros(bytes, line)) {
        // Damage a crash does not leave: every byte of the line was written, yet the CRC fails.
        throw corrupt(file, line.number, line.start, CRC_PROBLEM);
      }
      continue;
    }
    const record = parseRecord(file, line, json, lastSeq);
    if (record.pending > lastSeq + 1) {
      throw corrupt(
        file, first.number, first.start,
        `is damaged, yet record ${record.seq} (line ${line.number}) was written after it was on disk, so it was acknowledged`,
      );
    }
    written++;
  }
  const dropped = (tail.at(-1)!.stop + (tail.at(-1)!.complete ? 1 : 0)) - first.start;
  log(
    'warn',
    `journal ${file}: cut off ${dropped} bytes from line ${first.number} (byte ${first.start}) on: ` +
      `a write interrupted by a crash${written ? `, and ${written} whole record(s) written while it was pending` : ''}; ` +
      'none of them was acknowledged',
  );
  await cutFile(file, first.start);
}

/** Lines of the used part of the journal: trailing zeros are preallocated space, not content. */
function splitLines(bytes: Buffer): Line[] {
  const used = usedLength(bytes);
  const lines: Line[] = [];
  for (let start = 0; start < used; ) {
    const newline = bytes.indexOf(NEWLINE, start);
    const complete = newline !== -1 && newline < used;
    const stop = complete ? newline : used;
    lines.push({ number: lines.length + 1, start, stop, complete });
    start = stop + 1;
  }
  return lines;
}

function holdsZeros(bytes: Buffer, line: Line): boolean {
  const zero = bytes.indexOf(0, line.start);
  return zero !== -1 && zero < line.stop;
}

/** The line's JSON text when its CRC matches, else undefined. */
function checkedJson(bytes: Buffer, line: Line): string | undefined {
  if (line.stop - line.start < 10 || bytes[line.start + 8] !== 0x20) return undefined;
  const json = bytes.toString('utf8', line.start + 9, line.stop);
  return formatCrc(json) === bytes.toString('latin1', line.start, line.start + 8) ? json : undefined;
}

function parseRecord(file: string, line: Line, json: string, after: number): { seq: number; pending: number; writes: Entry[] } {
  const record = parseLine(file, line, json) as { seq?: unknown; pending?: unknown; writes?: unknown };
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) <= after) {
    throw corrupt(file, line.number, line.start, `has sequence number ${String(record.seq)} after ${after}; records must only go up`);
  }
  const seq = record.seq as number;
  // Journals written before records carried `pending` had one write in flight at a time.
  const pending = record.pending === undefined ? seq : record.pending;
  if (!Number.isSafeInteger(pending) || (pending as number) > seq) {
    throw corrupt(file, line.number, line.start, `has pending ${String(record.pending)}, which must be a sequence number no higher than its own`);
  }
  if (!Array.isArray(record.writes) || !record.writes.every(isEntry)) {
    throw corrupt(file, line.number, line.start, 'is not a list of [collection, key, value] writes');
  }
  return { seq, pending: pending as number, writes: record.writes as Entry[] };
}

/** Parses a line's JSON text; `undefined` (a failed CRC) is refused as damage. */
function parseLine(file: string, line: Line, json: string | undefined): unknown {
  if (json === undefined) throw corrupt(file, line.number, line.start, CRC_PROBLEM);
  try {
    return JSON.parse(json);
  } catch (error) {
    throw corrupt(file, line.number, line.start, `is not valid JSON (${(error as Error).message})`);
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
