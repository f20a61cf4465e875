import { describe, expect, it } from 'vitest';
import { Collection } from '../../src/store/collection.js';

/** A small deterministic generator, so a failure names a sequence that can be run again. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe('Collection', () => {
  it('lists, counts and pages as a sorted map would through runs of deletions, re-additions, changes and insertions', () => {
    const random = generator(7);
    const collection = new Collection();
    const model = new Map<string, number>();
    const key = () => `${random() < 0.5 ? 'gates' : 'other'}/${Math.floor(random() * 300).toString().padStart(3, '0')}`;
    for (let step = 0; step < 1500; step += 1) {
      // Runs of writes between reads, the way a sweep deletes many before anyone lists.
      const run = Math.floor(random() * 40);
      for (let write = 0; write < run; write += 1) {
        const at = key();
        if (random() < 0.45) {
          collection.set(at, undefined);
          model.delete(at);
        } else {
          collection.set(at, { key: at, value: step, revision: 1 });
          model.set(at, step);
        }
      }
      const sorted = [...model.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      const under = sorted.filter(([at]) => at.startsWith('gates/'));
      expect(collection.count()).toBe(model.size);
      expect(collection.count('gates/')).toBe(under.length);
      if (step % 3 === 0) expect(collection.list().map(({ value }) => value)).toEqual(sorted.map(([, value]) => value));
      else if (step % 3 === 1) expect(collection.list('gates/').map(({ value }) => value)).toEqual(under.map(([, value]) => value));
      else {
        const after = key();
        const page = collection.page({ prefix: 'gates/', after, limit: 5 });
        const rest = under.filter(([at]) => at > after);
        expect(page.documents.map(({ value }) => value)).toEqual(rest.slice(0, 5).map(([, value]) => value));
        expect(page.next).toBe(rest.length > 5 ? rest[4]![0] : undefined);
      }
    }
  });
});
