// The change feed's NOTIFY payloads: split under PostgreSQL's limit, naming the replica that committed, documents carried, read back.

import { describe, expect, it } from 'vitest';
import { ANYTHING, decodeChanges, encodeChanges } from '../../src/store/postgres/changes.js';

describe('change payloads', () => {
  it('carry the changes and their origin, split under 8000 bytes', () => {
    const changes = Array.from({ length: 500 }, (_, at) => ({ collection: 'instances', key: `chart/instance-${at}` }));
    const payloads = encodeChanges(changes, 'replica-a');
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8000);
    const heard = payloads.map(decodeChanges);
    expect(heard.every(({ origin }) => origin === 'replica-a')).toBe(true);
    expect(heard.flatMap(({ changes }) => changes)).toEqual(changes);
  });

  it('say anything changed for a key too long to name, and read that, a bare list (an older chartd) or a payload from another program', () => {
    expect(encodeChanges([{ collection: 'c', key: 'k'.repeat(9000) }], 'a')).toEqual([ANYTHING]);
    expect(decodeChanges(ANYTHING)).toEqual({ origin: undefined, changes: [] });
    expect(decodeChanges('[["c","k"]]')).toEqual({ origin: undefined, changes: [{ collection: 'c', key: 'k' }] });
    for (const stranger of ['hello', 'null', '{"origin":1,"changes":[]}', '{"changes":[["c"]]}']) {
      expect(decodeChanges(stranger)).toEqual({ origin: undefined, changes: [] });
    }
  });

  it('carry each document as committed (null once deleted), and only its key when it would not fit in a payload alone', () => {
    const big = { text: 'x'.repeat(8000) };
    const changes = [
      { collection: 'instances', key: 'a', committed: { key: 'a', value: { state: 'open' }, revision: 3 } },
      { collection: 'instances', key: 'b', committed: null },
      { collection: 'instances', key: 'big', committed: { key: 'big', value: big, revision: 1 } },
      { collection: 'instances', key: 'plain' },
    ];
    const payloads = encodeChanges(changes, 'replica-a');
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8000);
    expect(payloads.flatMap((payload) => decodeChanges(payload).changes)).toEqual([
      changes[0], changes[1], { collection: 'instances', key: 'big' }, changes[3],
    ]);
  });

  it('join values given as JSON text in as they are: the same payloads as encoding the values', () => {
    const value = { state: 'open', 'é': { quote: '"\\', emoji: '🦓', nul: 'a\u0000b' }, list: [1.5, -0.25, 1e21, null], big: 'x'.repeat(8000) };
    const changes = [
      { collection: 'instances', key: 'q"\\', committed: { key: 'q"\\', value, revision: 7 } },
      { collection: 'instances', key: 'gone', committed: null },
      { collection: 'instances', key: 'small', committed: { key: 'small', value: { n: 1 }, revision: 1 } },
    ];
    const texts = [JSON.stringify(value), null, JSON.stringify({ n: 1 })];
    expect(encodeChanges(changes, 'replica-a', texts)).toEqual(encodeChanges(changes, 'replica-a'));
    expect(encodeChanges(changes.slice(2), 'replica-a', texts.slice(2))).toEqual([`{"origin":"replica-a","changes":[["instances","small",1,{"n":1}]]}`]);
  });

  it('read what an older chartd sends, and name the document of a form a later one might send, to be read back', () => {
    expect(decodeChanges('{"origin":"o","changes":[["c","k"]]}')).toEqual({ origin: 'o', changes: [{ collection: 'c', key: 'k' }] });
    expect(decodeChanges('{"origin":"o","changes":[["c","k",2,{"v":1},"more"]]}')).toEqual({ origin: 'o', changes: [{ collection: 'c', key: 'k' }] });
    expect(decodeChanges('{"origin":"o","changes":[["c","k",0,{}]]}')).toEqual({ origin: 'o', changes: [{ collection: 'c', key: 'k' }] });
  });
});
