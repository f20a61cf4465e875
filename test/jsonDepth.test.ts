// How deep JSON may nest: counted without recursion, refused with the limit named.
import { describe, expect, it } from 'vitest';
import { TooDeep } from '../src/errors.js';
import { checkDepth } from '../src/jsonDepth.js';

/** `levels` arrays inside an object: `{"a":[[…]]}` nests levels + 1 deep. */
const nested = (levels: number): unknown => JSON.parse(`{"a":${'['.repeat(levels)}${']'.repeat(levels)}}`);

describe('checkDepth', () => {
  it('takes JSON at the limit and refuses one level more, naming the limit and the fix', () => {
    expect(() => checkDepth(nested(31), 32, 'context', 'pass it flatter')).not.toThrow();
    const refusal = (() => {
      try {
        checkDepth(nested(32), 32, 'context', 'pass it flatter');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(TooDeep);
    expect(refusal).toMatchObject({ status: 400, code: 'too_deep', message: 'context nests objects and arrays more than 32 levels deep; the limit is 32: pass it flatter' });
  });

  it('counts scalars as no level and every object or array as one, wherever it sits', () => {
    for (const flat of [null, 1, 'text', true]) expect(() => checkDepth(flat, 0, 'value', 'fix')).not.toThrow();
    expect(() => checkDepth({}, 1, 'value', 'fix')).not.toThrow();
    expect(() => checkDepth({ a: 1, b: [1, 2, { c: 'x'.repeat(1000) }] }, 3, 'value', 'fix')).not.toThrow();
    expect(() => checkDepth({ a: 1, b: [1, 2, { c: [] }] }, 3, 'value', 'fix')).toThrow(TooDeep);
    expect(() => checkDepth([[], [], [[[]]]], 3, 'value', 'fix')).toThrow(TooDeep);
  });

  // The hostile-request stall test (test/e2e/hostile.test.ts) shows what it costs a server.
  it('walks a million levels without overflowing the stack, and a wide document whole', () => {
    const deep = nested(1_000_000);
    expect(() => checkDepth(deep, 32, 'request body', 'send flatter JSON')).toThrow('more than 32 levels deep');
    const wide = JSON.parse(`[${Array.from({ length: 200_000 }, () => '{"k":[1]}').join(',')}]`) as unknown;
    expect(() => checkDepth(wide, 32, 'request body', 'send flatter JSON')).not.toThrow();
  });
});
