// Journal writes under a test's control: held until released, or failed as a broken disk would fail them.
import { vi } from 'vitest';
import { JournalWriter } from '../../src/store/journalWriter.js';

export interface HeldWrite {
  readonly text: string;
  /** Lets the real write go ahead; the store hears back once it lands. */
  release(): void;
  /** The store hears this error instead, as if the disk had refused; nothing reaches the file. */
  fail(error: Error): void;
}

const outstanding = new Set<HeldWrite>();

/** Journal writes whose bytes contain `marker` are held until the test lets them go; the rest go straight to disk. */
export function holdWrites(marker: string): HeldWrite[] {
  const held: HeldWrite[] = [];
  const real = JournalWriter.prototype.write;
  vi.spyOn(JournalWriter.prototype, 'write').mockImplementation(function (this: JournalWriter, bytes: Buffer, offset: number) {
    const text = bytes.toString('utf8');
    if (!text.includes(marker)) return real.call(this, bytes, offset);
    return new Promise<void>((resolve, reject) => {
      const write: HeldWrite = {
        text,
        release: () => {
          outstanding.delete(write);
          void real.call(this, bytes, offset).then(resolve, reject);
        },
        fail: (error) => {
          outstanding.delete(write);
          reject(error);
        },
      };
      outstanding.add(write);
      held.push(write);
    });
  });
  return held;
}

/** For afterEach: lets every write a failed test left held go ahead, so the store can close. */
export function releaseHeldWrites(): void {
  vi.restoreAllMocks();
  for (const write of [...outstanding]) write.release();
}

/** Settles as the promise does, recording when. */
export function track(promise: Promise<void>): { readonly settled: () => boolean; readonly outcome: Promise<PromiseSettledResult<void>> } {
  let done = false;
  const outcome = Promise.allSettled([promise]).then(([result]) => {
    done = true;
    return result!;
  });
  return { settled: () => done, outcome };
}
