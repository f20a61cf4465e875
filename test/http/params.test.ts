// Long-poll parameters: the ten-minute cap on wait=, and what wait= and index= refuse.

import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { indexParam, MAX_WAIT_MS, waitParam } from '../../src/http/params.js';

// Only the query string is read by these parameters; a whole Koa context would add nothing.
const withQuery = (query: Record<string, string | string[]>): Context => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) for (const one of [value].flat()) params.append(name, one);
  return { querystring: params.toString() } as unknown as Context;
};

describe('long-poll parameters', () => {
  it('caps wait at ten minutes and reads any shorter duration as given', () => {
    expect(MAX_WAIT_MS).toBe(10 * 60 * 1000);
    expect(waitParam(withQuery({ wait: '1h' }))).toBe(MAX_WAIT_MS);
    expect(waitParam(withQuery({ wait: '10m1s' }))).toBe(MAX_WAIT_MS);
    expect(waitParam(withQuery({ wait: '10m' }))).toBe(MAX_WAIT_MS);
    expect(waitParam(withQuery({ wait: '60s' }))).toBe(60_000);
    expect(waitParam(withQuery({ wait: '250ms' }))).toBe(250);
    expect(waitParam(withQuery({}))).toBeUndefined();
  });

  it('refuses a wait that is not a duration, and an index that is not a revision', () => {
    for (const wait of ['60', 'soon', '-5s', '1h1h']) expect(() => waitParam(withQuery({ wait })), wait).toThrow(/wait/);
    expect(() => waitParam(withQuery({ wait: ['1s', '2s'] }))).toThrow(/2 times/);
    expect(() => waitParam(withQuery({ wait: '9'.repeat(15_000) }))).toThrow('query parameter wait: duration \'99999999999999999999…\' is 15000 characters long; the limit is 64');
    expect(indexParam(withQuery({ index: '41' }))).toBe(41);
    for (const index of ['-1', 'x', '1.5']) expect(() => indexParam(withQuery({ index })), index).toThrow(/revision/);
  });
});
