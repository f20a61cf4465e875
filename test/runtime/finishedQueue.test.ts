import { describe, expect, it } from 'vitest';
import { FinishedQueue } from '../../src/runtime/finishedQueue.js';

describe('FinishedQueue', () => {
  it('gives the oldest first, skipping what was deleted or added again since, and restores a key added back with its time', () => {
    const queue = new FinishedQueue();
    queue.add('a', 1);
    queue.add('b', 2);
    queue.add('c', 3);
    queue.delete('a');
    // b restarted and finished again: it goes behind c.
    queue.add('b', 4);
    expect(queue.oldest()).toEqual({ key: 'c', at: 3 });
    queue.delete('c');
    // Put back with its time, c is the oldest again.
    queue.add('c', 3);
    expect(queue.oldest()).toEqual({ key: 'c', at: 3 });
    queue.delete('c');
    expect(queue.oldest()).toEqual({ key: 'b', at: 4 });
    queue.delete('b');
    expect(queue.oldest()).toBeUndefined();
    queue.add('d', 5);
    expect(queue.oldest()).toEqual({ key: 'd', at: 5 });
    queue.clear();
    expect(queue.oldest()).toBeUndefined();
  });

  it('takes the oldest due, and puts back in front those taken unless they were added again meanwhile', () => {
    const queue = new FinishedQueue();
    for (const [key, at] of [['a', 1], ['b', 2], ['c', 3], ['d', 9]] as const) queue.add(key, at);
    expect(queue.take(2, 5)).toEqual([{ key: 'a', at: 1 }, { key: 'b', at: 2 }]);
    expect(queue.take(5, 5)).toEqual([{ key: 'c', at: 3 }]);
    // b finished again meanwhile: it stays where it was added again, with its new time.
    queue.add('b', 7);
    queue.putBack([{ key: 'a', at: 1 }, { key: 'b', at: 2 }, { key: 'c', at: 3 }]);
    expect(queue.take(9, 10)).toEqual([{ key: 'a', at: 1 }, { key: 'c', at: 3 }, { key: 'd', at: 9 }, { key: 'b', at: 7 }]);
    expect(queue.oldest()).toBeUndefined();
  });

  it('keeps its order across the copies that drop what it has passed', () => {
    const queue = new FinishedQueue();
    for (let at = 0; at < 10_000; at += 1) queue.add(`i${at}`, at);
    const taken: number[] = [];
    for (let oldest = queue.oldest(); oldest; oldest = queue.oldest()) {
      taken.push(oldest.at);
      queue.delete(oldest.key);
      // Some finish again while others are taken: they come after every one before them.
      if (oldest.at % 1000 === 0 && oldest.at < 10_000) queue.add(oldest.key, 10_000 + oldest.at);
    }
    expect(taken).toHaveLength(10_010);
    expect(taken).toEqual([...taken].sort((a, b) => a - b));
  });
});
