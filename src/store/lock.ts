// One server per data directory: a LOCK file naming its holder's pid, host and start time.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { link, open, realpath, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { inFile, readIfExists } from './durableFile.js';
import { StoreLocked } from './store.js';

export type StoreLog = (level: 'info' | 'warn', msg: string) => void;

interface LockOwner {
  readonly program: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /**
   * When the holder process started, in clock ticks since boot (/proc/PID/stat, Linux): tells the holder from
   * a later process that got the same pid (after a reboot, or in a restarted container). Locks written before
   * it existed, or where /proc is missing, go without.
   */
  readonly procStart?: number;
}

/** How long a start-up waits for a lock holder that is alive but may be on its way out (just killed -9). */
const HOLDER_EXIT_GRACE_MS = 1500;
const HOLDER_POLL_MS = 50;

// A pid check cannot tell this process's second open from its first; this set can.
const heldByThisProcess = new Set<string>();
/** The locks this process holds, for releaseLocksNow. */
const held = new Set<DirLock>();

/**
 * Removes every LOCK this process holds, at once and synchronously, for a process about to exit without closing
 * its stores (a second stop signal): the data is as after a crash, which the next start replays, but no LOCK is left.
 */
export function releaseLocksNow(): void {
  for (const lock of held) lock.releaseNow();
}

/** Holds a data directory until released; a holder killed with -9 leaves a LOCK the next start takes over. */
export class DirLock {
  private constructor(
    readonly file: string,
    private readonly owner: LockOwner,
    private readonly dirKey: string,
  ) {}

  static async acquire(dir: string, log: StoreLog): Promise<DirLock> {
    const dirKey = await realpath(dir);
    const file = join(dir, 'LOCK');
    const procStart = processStat(process.pid)?.start;
    const owner: LockOwner = {
      program: 'chartd', pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...(procStart === undefined ? {} : { procStart }),
    };
    if (heldByThisProcess.has(dirKey)) throw new StoreLocked(describeInUse(dir, owner, file), file);
    const text = `${JSON.stringify(owner)}\n`;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await createExclusively(file, text)) {
        heldByThisProcess.add(dirKey);
        const lock = new DirLock(file, owner, dirKey);
        held.add(lock);
        return lock;
      }
      const seen = await readIfExists(file);
      if (seen === null) continue; // released between our attempt and this read
      const holder = parseOwner(seen.toString('utf8'));
      if (!holder) {
        throw new StoreLocked(`${file} is not a chartd lock file; if no chartd uses data directory ${dir}, delete it and start again`, file);
      }
      if (await stillRunning(holder)) throw new StoreLocked(describeInUse(dir, holder, file), file);
      // Remove it only if it is still the lock judged stale: narrows the window in which two starters both win.
      const again = await readIfExists(file);
      if (again === null || !again.equals(seen)) continue;
      await rm(file, { force: true });
      log('warn', `took over data directory ${dir}: its lock was left by pid ${holder.pid} (since ${holder.startedAt}), which is no longer running`);
    }
    throw new StoreLocked(`could not lock data directory ${dir}: ${file} keeps changing; is another chartd starting on it?`, file);
  }

  /** Deletes the LOCK only while it is still ours. */
  async release(): Promise<void> {
    heldByThisProcess.delete(this.dirKey);
    held.delete(this);
    const seen = await readIfExists(this.file);
    if (this.owns(seen)) await rm(this.file, { force: true });
  }

  /** release(), synchronously: see releaseLocksNow. */
  releaseNow(): void {
    heldByThisProcess.delete(this.dirKey);
    held.delete(this);
    let seen: Buffer | null;
    try {
      seen = readFileSync(this.file);
    } catch {
      seen = null;
    }
    if (this.owns(seen)) rmSync(this.file, { force: true });
  }

  private owns(seen: Buffer | null): boolean {
    const holder = seen && parseOwner(seen.toString('utf8'));
    return Boolean(holder && holder.pid === this.owner.pid && holder.startedAt === this.owner.startedAt);
  }
}

// link(2) fails with EEXIST as O_EXCL does, but the LOCK appears with its content already synced,
// so no reader (even after a power cut) finds an empty lock file.
async function createExclusively(file: string, text: string): Promise<boolean> {
  const temp = join(dirname(file), `.LOCK.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    // On a full disk the temp file is all that could be made: take it away again, and say which file failed.
    await rm(temp, { force: true }).catch(() => undefined);
    throw inFile(error, file);
  }
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    // ENOENT: a starter that already won swept our temp file away; look again.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner> | null;
    if (value && typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.startedAt === 'string') {
      const procStart = typeof value.procStart === 'number' ? { procStart: value.procStart } : {};
      return { program: String(value.program ?? 'chartd'), pid: value.pid, host: value.host, startedAt: value.startedAt, ...procStart };
    }
  } catch {
    // fall through: not a lock we wrote
  }
  return undefined;
}

/**
 * Whether the holder is running, giving one that looks alive a moment to finish exiting: a server killed -9
 * takes a little while to let go of its memory, and a supervisor may restart it at once.
 */
async function stillRunning(holder: LockOwner): Promise<boolean> {
  // A pid means nothing on another host: refuse rather than guess.
  if (holder.host !== hostname()) return true;
  for (let waited = 0; waited < HOLDER_EXIT_GRACE_MS; waited += HOLDER_POLL_MS) {
    if (!isRunning(holder)) return false;
    await new Promise((resolve) => setTimeout(resolve, HOLDER_POLL_MS));
  }
  return isRunning(holder);
}

/** Whether the holder, a process on this host, is alive. */
function isRunning(holder: LockOwner): boolean {
  // Our own pid in a lock we do not hold is a previous life (e.g. pid 1 in a restarted container).
  if (holder.pid === process.pid) return false;
  const seen = processStat(holder.pid);
  if (seen) {
    // A zombie (killed, not yet reaped by its parent) holds nothing any more; a different start is another process.
    if (seen.state === 'Z' || seen.state === 'X') return false;
    if (holder.procStart !== undefined && seen.start !== holder.procStart) return false;
    return true;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** State letter and start (clock ticks since boot) of a process, from /proc; undefined where there is none. */
function processStat(pid: number): { state: string; start: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields count from the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return fields[0] && Number.isSafeInteger(start) ? { state: fields[0], start } : undefined;
}

function describeInUse(dir: string, holder: LockOwner, file: string): string {
  const where = holder.host === hostname() ? '' : ` on host ${holder.host}`;
  return (
    `data directory ${dir} is in use by ${holder.program} (pid ${holder.pid}${where}, since ${holder.startedAt}); ` +
    `stop it or pass another --data` +
    (where ? ` (if that server is gone for good, delete ${file})` : '')
  );
}
