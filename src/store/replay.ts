// Reading a journal back: every record checked (CRC, JSON, shape, order), and the end a crash interrupted cut off.
import { open } from 'node:fs/promises';
import { formatCrc } from './crc.js';
import { readIfExists } from './durableFile.js';
import { JOURNAL_FORMAT, type Entry } from './journal.js';
import type { StoreLog } from './lock.js';
import { StoreCorrupt } from './store.js';

const NEWLINE = 0x0a;

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
