// Appends to the newest journal: groups of records reserved in order, several on their way to disk at once, space preallocated ahead.
import { constants } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurably } from './durableFile.js';
import { HEADER, journalPath, type JournalFile } from './journal.js';

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
